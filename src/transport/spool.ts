// Where the bytes of an incoming snapshot wait until all of them arrived (issue 16). The receiver used
// to allocate one buffer of the snapshot's full size when a transfer was offered and keep it until the
// transfer completed (~110 MiB for a million keys, one per sender at once: 353 MiB off the node
// thread's heap on a new member whose catch-up saw leadership move). The server gives the transport a
// spool on disk (src/storage/snapshot_spool.ts): while a transfer runs only the chunks in flight are
// in memory, and the bytes are read back in one piece once the transfer is complete and checked —
// the install (the state machine's restore, the snapshot file's write) takes one buffer.
import { Buffer } from 'node:buffer';
import type { SnapshotMeta } from '../raft/types.ts';

/** Called once: null when done, else the (I/O) error that ends the transfer. */
export type SpoolDone = (err: Error | null) => void;

/**
 * A received snapshot left in its spool file (the server, issue 16: src/storage/snapshot_spool.ts):
 * installed from the file — the state restored from it in pieces, the file renamed into place as the
 * node's snapshot file — rather than read back into one buffer. Whoever receives it releases it.
 */
export interface SpooledSnapshot {
  /** The file (a whole snapshot file: header, data, checksum; fdatasynced). */
  readonly path: string;
  /** Bytes of snapshot data: what the transfer carried. */
  readonly totalBytes: number;
  /** Reads `bytes` bytes of the data at `offset`. */
  read(offset: number, bytes: number, done: (err: Error | null, data: Uint8Array | null) => void): void;
  /** Closes the file and removes it unless it was renamed into place. Idempotent. */
  release(): void;
}

/** A received snapshot: its bytes, or its spool file. */
export type ReceivedSnapshotData = Uint8Array | SpooledSnapshot;

/** The bytes of one transfer. Appends are in order and complete in order. */
export interface SnapshotSpool {
  /** Stores the next bytes (the caller keeps `data` unchanged until done). */
  append(data: Uint8Array, done: SpoolDone): void;
  /**
   * Once every append completed: all the bytes in one buffer (the spool is discarded after), or the
   * spool file itself, handed over.
   */
  complete(done: (err: Error | null, data: ReceivedSnapshotData | null) => void): void;
  /** Drops what was stored (a replaced, refused, failed or stopped transfer). Idempotent; any time. */
  discard(): void;
}

/**
 * Opens the spool of a transfer of `totalBytes` (already checked against maxSnapshotBytes) of the
 * snapshot `meta` describes.
 */
export type SpoolOpener = (totalBytes: number, meta: SnapshotMeta) => SnapshotSpool;

/**
 * In memory (the transport alone, in tests): one buffer, allocated at the first byte received — an
 * offer that is refused or never sends data allocates nothing.
 */
export function memorySpool(totalBytes: number): SnapshotSpool {
  let buf: Buffer | null = null;
  let at = 0;
  let discarded = false;
  return {
    append(data, done) {
      if (discarded) return void queueMicrotask(() => done(new Error('snapshot spool discarded')));
      buf ??= Buffer.allocUnsafe(totalBytes);
      buf.set(data, at);
      at += data.length;
      queueMicrotask(() => done(null));
    },
    complete(done) {
      const out = discarded ? null : (buf ?? Buffer.alloc(0));
      buf = null;
      discarded = true;
      queueMicrotask(() => (out === null ? done(new Error('snapshot spool discarded'), null) : done(null, out)));
    },
    discard() {
      buf = null;
      discarded = true;
    },
  };
}
