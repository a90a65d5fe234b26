// The sending half's data: a snapshot's bytes as a source read a chunk at a time (outbound.ts pumps
// it), and what identifies a transfer.
import { crc32 } from 'node:zlib';
import type { SnapshotRequest } from '../raft/types.ts';
import type { TransferId } from './codec.ts';

/**
 * The bytes of a snapshot to send, read a chunk at a time: the server reads them from the snapshot
 * file (src/storage/snapshot_source.ts) instead of holding the whole snapshot while it is sent.
 */
export interface SnapshotSource {
  readonly totalBytes: number;
  /** CRC32 (zlib) of all the bytes: the transfer's checksum. */
  readonly crc32: number;
  /** The bytes at [offset, offset + bytes); done may be called at once or later. */
  read(offset: number, bytes: number, done: (err: Error | null, data: Uint8Array | null) => void): void;
  /** The transfer ended (delivered, refused, replaced, stopped): no more reads. */
  release(): void;
}

export interface OutgoingSnapshot {
  readonly id: TransferId;
  readonly msg: SnapshotRequest;
  readonly source: SnapshotSource;
  /** Bytes the receiver confirmed; chunks go out while sent - acked < window. */
  acked: number;
  sent: number;
  /** After (re)connecting we offer the transfer and wait to learn where the receiver stands. */
  awaitingOfferAck: boolean;
  /** A chunk is being read from the source (one at a time, in order). */
  reading: boolean;
  /** A chunk read ahead while the window was full: sent as soon as the window opens. */
  ahead: { readonly at: number; readonly data: Uint8Array } | null;
}

/**
 * CRC32 of snapshot bytes already offered. The core offers the same bytes again after a refusal or
 * a lost transfer (the host keeps them while it sends), and each CRC32 of ~100 MiB costs the leader
 * tens of ms of CPU on the thread that keeps its lease.
 */
const offeredCrcs = new WeakMap<Uint8Array, number>();

function crcOf(data: Uint8Array): number {
  let c = offeredCrcs.get(data);
  if (c === undefined) {
    c = crc32(data);
    offeredCrcs.set(data, c);
  }
  return c;
}

/** Bytes in memory as a source (read at once, views of the buffer). */
export function bufferSource(data: Uint8Array): SnapshotSource {
  return {
    totalBytes: data.length,
    crc32: crcOf(data),
    read: (offset, bytes, done) => done(null, data.subarray(offset, offset + bytes)),
    release() {},
  };
}

export function sameTransfer(a: TransferId, b: TransferId): boolean {
  return a.index === b.index && a.term === b.term && a.totalBytes === b.totalBytes && a.crc32 === b.crc32;
}

/** What pumpChunks needs of the link. */
export interface ChunkSink {
  readonly chunkBytes: number;
  readonly windowBytes: number;
  /** Whether `s` is still the link's transfer (not replaced, ended or stopped). */
  current(): boolean;
  /** Queues the chunk at `at` (the caller advances nothing: pumpChunks does). */
  push(at: number, data: Uint8Array): void;
  /** A read failed: the transfer ends. */
  fail(err: Error): void;
}

/**
 * Sends the chunks the window allows, reading them from the source one at a time — and, while the
 * window is full, the next one ahead, so that a read (a file's, through the thread pool) is not on
 * every chunk's round trip: one chunk more in memory. A read that completes after the transfer was
 * replaced or restarted from another offset (a reconnect) is dropped.
 */
export function pumpChunks(s: OutgoingSnapshot, sink: ChunkSink): void {
  const total = s.id.totalBytes;
  const open = (): boolean => s.sent < total && s.sent - s.acked < sink.windowBytes;
  while (sink.current() && !s.awaitingOfferAck && s.sent < total) {
    const ahead = s.ahead;
    if (ahead !== null && ahead.at !== s.sent) s.ahead = null; // restarted elsewhere meanwhile
    if (open() && s.ahead !== null) {
      sink.push(s.sent, s.ahead.data);
      s.sent += s.ahead.data.length;
      s.ahead = null;
      continue;
    }
    if (s.reading || s.ahead !== null) return;
    const at = s.sent;
    const bytes = Math.min(total - at, sink.chunkBytes);
    let sync = true;
    s.reading = true;
    s.source.read(at, bytes, (err, data) => {
      s.reading = false;
      if (!sink.current()) return;
      if (err !== null || data === null) return sink.fail(err ?? new Error('no data'));
      if (at === s.sent && !s.awaitingOfferAck) s.ahead = { at, data };
      if (!sync) pumpChunks(s, sink);
    });
    sync = false;
    if (!open() && s.ahead === null) return; // a read ahead of the window is under way
  }
}
