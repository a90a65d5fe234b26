// A snapshot being received from the leader, on disk until all of it arrived (issue 16): the peer
// transport's spool (src/transport/spool.ts). The receiver used to hold a buffer of the snapshot's
// full size from the offer to the install — one per sending leader, 353 MiB on a new member whose
// catch-up saw leadership move. Here each chunk goes to a file of its own transfer
// (`snapshot.incoming.N.tmp` in the data folder) as it arrives, through libuv's thread pool, and the
// bytes are read back in one piece once the transfer is complete and checked.
//
// The file is a staging area, never a recovery source: nothing reads it after a restart, so it is
// not fsynced (the installed snapshot is written and fsynced by the WAL worker, snapshot_file.ts),
// and files left by a crash or kill mid-transfer are removed when the node starts
// (removeSpoolLeftovers). A transfer that is replaced, refused or fails removes its own file.
import { Buffer } from 'node:buffer';
import { readdirSync, unlinkSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotMeta } from '../raft/types.ts';
import { crc32c } from './crc32c.ts';
import { snapshotHead, snapshotTail } from './snapshot_file.ts';

const SPOOL_FILE = /^snapshot\.incoming\.\d+\.tmp$/;

/** Storing or reading back a received snapshot failed (disk full, I/O error): that transfer is dropped. */
export class SnapshotSpoolError extends Error {
  override readonly name = 'SnapshotSpoolError';
}

/** Removes the spool files of an earlier process (a crash mid-transfer); returns their names. */
export function removeSpoolLeftovers(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => SPOOL_FILE.test(n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  for (const n of names) unlinkSync(join(dir, n));
  return names;
}

/** Opens one spool file per transfer in `dir` (which must exist). */
export class SnapshotSpoolDir {
  private seq = 0;

  constructor(private readonly dir: string) {}

  /** With `meta`, the file is written as a whole snapshot file (FileSpool). */
  open(totalBytes: number, meta?: SnapshotMeta): FileSpool {
    return new FileSpool(join(this.dir, `snapshot.incoming.${++this.seq}.tmp`), totalBytes, meta);
  }
}

/**
 * A received snapshot kept in its spool file, which is a whole snapshot file (snapshot_file.ts:
 * header, data, CRC32C), fdatasynced: restored from in pieces, and renamed into place as
 * `snapshot.snap` by the WAL worker (Wal.adoptReceivedSnapshot) instead of written again from a copy
 * (issue 16). The same shape as the transport's SpooledSnapshot (src/transport/spool.ts).
 */
export interface SpooledSnapshotFile {
  readonly path: string;
  /** Bytes of snapshot data (the transfer's), after the file's header. */
  readonly totalBytes: number;
  /** Reads `bytes` bytes of the data at `offset` (the file stays open while renamed: a view of its bytes). */
  read(offset: number, bytes: number, done: (err: Error | null, data: Uint8Array | null) => void): void;
  /** Closes the file and removes it unless it was renamed into place meanwhile. Idempotent. */
  release(): void;
}

type Done = (err: Error | null) => void;

/** One transfer's file. Appends are written in order (each at its offset), one after another. */
export class FileSpool {
  private readonly file: Promise<FileHandle>;
  /** The chain of writes (and the final read); never rejects. */
  private tail: Promise<void> = Promise.resolve();
  private at = 0;
  private failed: SnapshotSpoolError | null = null;
  private discarded = false;
  private removed: Promise<void> | null = null;

  /** The snapshot file's header when the file is one (see SpooledSnapshotFile), else empty. */
  private readonly head: Uint8Array;
  /** CRC32C of the header and the data appended so far. */
  private crc: number;

  constructor(
    readonly path: string,
    private readonly totalBytes: number,
    private readonly meta?: SnapshotMeta,
  ) {
    // 'wx+': created here (never someone else's file), read back at the end.
    this.file = open(path, 'wx+', 0o600);
    this.file.catch(() => undefined); // reported by the first append or read
    this.head = meta === undefined ? new Uint8Array(0) : snapshotHead(meta);
    this.crc = crc32c(this.head);
    if (this.head.length > 0) this.writeAt(this.head, 0, () => undefined); // a failure fails the next step
  }

  append(data: Uint8Array, done: Done): void {
    const pos = this.at;
    this.at += data.length;
    if (this.at > this.totalBytes) throw new Error(`spool ${this.path}: ${this.at} bytes past ${this.totalBytes}`);
    if (this.meta !== undefined) this.crc = crc32c(data, 0, data.length, this.crc);
    this.writeAt(data, this.head.length + pos, done);
  }

  private writeAt(data: Uint8Array, pos: number, done: Done): void {
    this.tail = this.tail.then(() =>
      this.step(async (fh) => {
        for (let off = 0; off < data.length;) {
          const { bytesWritten } = await fh.write(data, off, data.length - off, pos + off);
          off += bytesWritten;
        }
      }).then(done),
    );
  }

  /**
   * Once every append completed, with meta: the checksum is written and the file fdatasynced, and
   * it is handed over as it is (the caller releases it) — nothing is read back. Without: readAll.
   */
  complete(done: (err: Error | null, data: Uint8Array | SpooledSnapshotFile | null) => void): void {
    if (this.meta === undefined) return this.readAll(done);
    this.writeAt(snapshotTail(this.crc), this.head.length + this.at, () => undefined);
    this.tail = this.tail.then(() =>
      this.step((fh) => fh.datasync()).then(async (err) => {
        if (err !== null) await this.remove();
        done(err, err === null ? this.handOver() : null);
      }),
    );
  }

  private handOver(): SpooledSnapshotFile {
    const dataOffset = this.head.length;
    return {
      path: this.path,
      totalBytes: this.at,
      read: (offset, bytes, done) => {
        if (offset < 0 || offset + bytes > this.at) throw new Error(`spool ${this.path}: read past the data`);
        const buf = Buffer.allocUnsafe(bytes);
        this.tail = this.tail.then(() =>
          this.step(async (fh) => {
            for (let off = 0; off < bytes;) {
              const { bytesRead } = await fh.read(buf, off, bytes - off, dataOffset + offset + off);
              if (bytesRead === 0) throw new Error(`${this.path} ended at ${dataOffset + offset + off}`);
              off += bytesRead;
            }
          }).then((err) => done(err, err === null ? buf : null)),
        );
      },
      release: () => this.discard(),
    };
  }

  readAll(done: (err: Error | null, data: Uint8Array | null) => void): void {
    let out: Buffer | null = null;
    this.tail = this.tail.then(() =>
      this.step(async (fh) => {
        const buf = Buffer.allocUnsafe(this.at);
        for (let off = 0; off < buf.length;) {
          const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
          if (bytesRead === 0) throw new Error(`${this.path} ended at ${off} of ${buf.length} bytes`);
          off += bytesRead;
        }
        out = buf;
      }).then(async (err) => {
        await this.remove();
        done(err, err === null ? out : null);
      }),
    );
  }

  discard(): void {
    this.discarded = true;
    this.tail = this.tail.then(() => this.remove());
  }

  /** Runs one operation on the file unless an earlier one failed or the spool was discarded. */
  private async step(op: (fh: FileHandle) => Promise<void>): Promise<SnapshotSpoolError | null> {
    if (this.failed !== null) return this.failed;
    if (this.discarded) return new SnapshotSpoolError(`snapshot spool ${this.path} was discarded`);
    try {
      await op(await this.file);
      return null;
    } catch (e) {
      this.failed = new SnapshotSpoolError(
        `snapshot spool ${this.path}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
      return this.failed;
    }
  }

  /** Closes and deletes the file, once. */
  private remove(): Promise<void> {
    this.removed ??= (async () => {
      await this.file.then((fh) => fh.close()).catch(() => undefined);
      await unlink(this.path).catch(() => undefined);
    })();
    return this.removed;
  }
}
