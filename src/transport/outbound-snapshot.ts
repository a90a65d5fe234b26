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
