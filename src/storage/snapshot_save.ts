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
  /** Appends all of `data` (not durable until sync). */
  write(data: Uint8Array): Promise<void>;
  /** fdatasync: the file's data and size. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Bytes checksummed and written per step: a few ms of CPU between two turns of the WAL's event loop. */
export const SNAPSHOT_SAVE_SLICE_BYTES = 4 * 1024 * 1024;
export interface SideWriteOptions {
  readonly sliceBytes?: number;
}

/**
 * Writes the snapshot file to DIR/SNAPSHOT_SAVE_TEMP_FILE and fsyncs it. On an error (a full disk)
 * the partial file is removed and the error thrown: the caller stops the node like for any storage
 * error. The file's bytes are those writeSnapshotFile writes.
 */
export async function writeSnapshotSide(
  sfs: SideFs,
  dir: string,
  meta: SnapshotMeta,
  data: Uint8Array,
  opts: SideWriteOptions = {},
): Promise<void> {
  const sliceBytes = opts.sliceBytes ?? SNAPSHOT_SAVE_SLICE_BYTES;
  const path = posix.join(dir, SNAPSHOT_SAVE_TEMP_FILE);
  const f = await sfs.create(path);
  try {
    const head = snapshotHead(meta);
    await f.write(head);
    let crc = crc32c(head);
    for (let at = 0; at < data.length; at += sliceBytes) {
      const end = Math.min(data.length, at + sliceBytes);
      const written = f.write(data.subarray(at, end));
      // The checksum of this slice is computed while the thread pool writes it.
      crc = crc32c(data, at, end, crc);
      await written;
    }
    await f.write(snapshotTail(crc));
    await f.sync();
  } catch (e) {
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
    async write(data) {
      let done = 0;
      while (done < data.length) done += (await h.write(data, done, data.length - done)).bytesWritten;
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
          write: (data) => later(() => fs.append(fd, data)),
          sync: () => later(() => fs.fsync(fd)),
          close: () => later(() => fs.close(fd)),
        };
      }),
    remove: (path) => later(() => void (fs.exists(path) && fs.unlink(path))),
  };
}
