// Writing the node's own snapshot file beside the WAL (issue 13). The WAL worker handles one request
// at a time, and a snapshot saved there — CRC32C, write and fsync of ~100 MiB with a million keys,
// 0.76–1.3 s measured at load ~17 — held up every append and fsync queued behind it: the write
// probe waited 530–590 ms while a million keys were loaded. The slow part has no order with the WAL:
// a temp file nobody reads until it is renamed. So it is written here, through libuv's thread pool,
// the checksum computed in slices between the writes, and the WAL worker goes on syncing appends
// meanwhile; only the short ordered step — sync the WAL, rename the file into place, fsync the folder,
// record the snapshot marker — stays in the WAL's request order (Wal.adoptSnapshotFile).
//
// Crash safety: until the rename the new file is a temp file under its own name, deleted on open;
// after it, the rules of docs/storage.md "Write path and fsync rules" are those of any snapshot save.
import { open, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import type { SnapshotMeta } from '../raft/types.ts';
import { crc32c } from './crc32c.ts';
import type { Fd, FileSystem } from './fs.ts';
import { SNAPSHOT_SAVE_TEMP_FILE, snapshotHead, snapshotTail } from './snapshot_file.ts';

/** The few asynchronous file operations the side write needs (real files, or a FileSystem in tests). */
export interface SideFs {
  /** Creates the file, or empties it if it exists; opened for appending. */
  create(path: string): Promise<SideFile>;
  /** Removes the file; a missing file is not an error. */
  remove(path: string): Promise<void>;
}

export interface SideFile {
  /** Appends all of `parts`, in order (not durable until sync). */
  write(parts: readonly Uint8Array[]): Promise<void>;
  /** fdatasync: the file's data and size. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A snapshot's data handed out a batch at a time (issue 16): the node's own snapshot is encoded from
 * the state machine's frozen pages as it is written (src/kv/state.ts snapshotPieces), so no buffer of
 * the snapshot's size is ever made. Batches stay valid until release().
 */
export interface SnapshotBody {
  readonly totalBytes: number;
  /** The next bytes in order (a few MiB at most in all), or null after the last. */
  next(): readonly Uint8Array[] | null;
  /** Lets what the batches are views of go. Idempotent. */
  release(): void;
}

/** Bytes checksummed and written per step: a few ms of CPU between two turns of the WAL's event loop. */
export const SNAPSHOT_SAVE_SLICE_BYTES = 4 * 1024 * 1024;
export interface SideWriteOptions {
  readonly sliceBytes?: number;
}

/** One buffer as a body of slices (views, not copies). */
export function bodyOfBytes(data: Uint8Array, sliceBytes = SNAPSHOT_SAVE_SLICE_BYTES): SnapshotBody {
  let at = 0;
  return {
    totalBytes: data.length,
    next() {
      if (at >= data.length) return null;
      const end = Math.min(data.length, at + sliceBytes);
      const slice = data.subarray(at, end);
      at = end;
      return [slice];
    },
    release: () => undefined,
  };
}

/**
 * Writes the snapshot file to DIR/SNAPSHOT_SAVE_TEMP_FILE and fsyncs it. On an error (a full disk)
 * the partial file is removed and the error thrown: the caller stops the node like for any storage
 * error. The file's bytes are those writeSnapshotFile writes. A body is taken over: released once
 * written (or failed); each batch's checksum is computed while the thread pool writes it.
 */
export async function writeSnapshotSide(
  sfs: SideFs,
  dir: string,
  meta: SnapshotMeta,
  data: Uint8Array | SnapshotBody,
  opts: SideWriteOptions = {},
): Promise<void> {
  const body = data instanceof Uint8Array ? bodyOfBytes(data, opts.sliceBytes) : data;
  const path = posix.join(dir, SNAPSHOT_SAVE_TEMP_FILE);
  let f: SideFile;
  try {
    f = await sfs.create(path);
  } catch (e) {
    body.release();
    throw e;
  }
  try {
    const head = snapshotHead(meta);
    await f.write([head]);
    let crc = crc32c(head);
    let bytes = 0;
    for (let batch = body.next(); batch !== null; batch = body.next()) {
      const written = f.write(batch);
      for (const b of batch) crc = crc32c(b, 0, b.length, crc);
      for (const b of batch) bytes += b.length;
      await written;
    }
    if (bytes !== body.totalBytes) throw new Error(`snapshot body gave ${bytes} bytes, announced ${body.totalBytes}`);
    body.release();
    await f.write([snapshotTail(crc)]);
    await f.sync();
  } catch (e) {
    body.release();
    await f.close().catch(() => undefined);
    await sfs.remove(path).catch(() => undefined);
    throw e;
  }
  await f.close();
}

/** Real files through libuv's thread pool (node:fs/promises). */
export const realSideFs: SideFs = {
  async create(path) {
    const h = await open(path, 'w', 0o644);
    return realSideFile(h);
  },
  async remove(path) {
    await unlink(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  },
};

function realSideFile(h: FileHandle): SideFile {
  return {
    async write(parts) {
      // One writev per batch (the pages of a few MiB); a short write goes on from where it stopped.
      let rest = parts.filter((p) => p.length > 0);
      while (rest.length > 0) {
        let n = (await h.writev(rest)).bytesWritten;
        while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length;
        if (n > 0) rest[0] = rest[0]!.subarray(n);
      }
    },
    sync: () => h.datasync(),
    close: () => h.close(),
  };
}

/** A FileSystem's calls, each on a later macrotask (the inline backend, FaultyFs in tests). */
export function sideFsOver(fs: FileSystem): SideFs {
  const later = <T>(fn: () => T): Promise<T> =>
    new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(fn());
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
  return {
    create: (path) =>
      later(() => {
        if (fs.exists(path)) fs.unlink(path);
        const fd: Fd = fs.open(path, { create: true });
        return {
          write: (parts) => later(() => parts.forEach((p) => fs.append(fd, p))),
          sync: () => later(() => fs.fsync(fd)),
          close: () => later(() => fs.close(fd)),
        };
      }),
    remove: (path) => later(() => void (fs.exists(path) && fs.unlink(path))),
  };
}
