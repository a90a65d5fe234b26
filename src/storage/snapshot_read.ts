// Reading the snapshot file to send it to a follower (issue 13), off the WAL's thread. The WAL
// worker handles one request at a time, so a snapshot read there (~100 MiB with a million keys:
// the read and its CRC32C took 0.5–0.7 s on the build machine) held up every append and fsync
// queued behind it, and writes waited that long while a wiped follower was caught up. Here the
// bytes come through libuv's thread pool (fs.promises.readFile) and the checksum is computed in
// slices on the calling thread, yielding between them, so neither the WAL nor the event loop waits
// for the whole file. Reading beside the WAL is safe: the file is only ever replaced whole (temp
// file and rename, snapshot_file.ts), and an open file keeps its bytes if it is replaced meanwhile
// (the caller checks the index it got).
//
// A restart reads it here too (issue 16, session 8), a piece at a time through one buffer
// (openSnapshotData): recovery has checked the file in slices (snapshot_file.ts checkSnapshotFile)
// and says where its data is; the state machine is restored from the pieces.
import { Buffer } from 'node:buffer';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { crc32c } from './crc32c.ts';
import { StorageCorruptError } from './errors.ts';
import {
  decodeSnapshot,
  SNAPSHOT_FILE,
  SNAPSHOT_MIN_FILE_BYTES,
  snapshotFileHead,
  type Snapshot,
  type SnapshotFileLayout,
} from './snapshot_file.ts';

/** Bytes checksummed between two yields to the event loop (a few ms of CPU each). */
export const SNAPSHOT_CRC_SLICE_BYTES = 4 * 1024 * 1024;

/** The data folder's snapshot, checked like readSnapshotFile; null if there is none. */
export async function readSnapshotFileAsync(
  dir: string,
  sliceBytes = SNAPSHOT_CRC_SLICE_BYTES,
): Promise<Snapshot | null> {
  const path = join(dir, SNAPSHOT_FILE);
  let b: Buffer;
  try {
    b = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (b.length < SNAPSHOT_MIN_FILE_BYTES) return decodeSnapshot(path, b);
  const end = b.length - 4;
  let crc = 0;
  for (let at = 0; at < end; at += sliceBytes) {
    crc = crc32c(b, at, Math.min(end, at + sliceBytes), crc);
    if (at + sliceBytes < end) await new Promise((r) => setImmediate(r));
  }
  return decodeSnapshot(path, b, crc);
}

/** The data of a snapshot file recovery checked (a restart's load, issue 16), read a piece at a time. */
export interface SnapshotDataReader {
  readonly totalBytes: number;
  /**
   * `bytes` bytes of the data at `offset`, into one buffer the reader reuses: the caller must be
   * done with a piece before it asks for the next (the kv snapshot's feed copies what it keeps).
   */
  read(offset: number, bytes: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Opens the data folder's snapshot file to read the data recovery checked (`checked`: what
 * Wal.open returned in WalState.snapshotFile). The file must still be that file — its size and
 * metadata — else StorageCorruptError: nothing replaces it under the data-dir lock before the node
 * runs, and the kv snapshot's CRC32, checked before its state is used, covers the data itself.
 */
export async function openSnapshotData(
  dir: string,
  checked: SnapshotFileLayout,
  pieceBytes: number,
): Promise<SnapshotDataReader> {
  const path = join(dir, SNAPSHOT_FILE);
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = await readFully(fh, path, Buffer.allocUnsafe(checked.dataOffset), 0);
    const { meta, dataOffset } = snapshotFileHead(path, head);
    if (size !== checked.fileBytes || dataOffset !== checked.dataOffset || !isDeepStrictEqual(meta, checked.meta))
      throw new StorageCorruptError(
        path,
        0,
        `snapshot file changed after recovery checked it (${size} bytes, index ${meta.index}; checked: ${checked.fileBytes} bytes, index ${checked.meta.index})`,
      );
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
  const buf = Buffer.allocUnsafe(Math.min(pieceBytes, checked.dataBytes));
  return {
    totalBytes: checked.dataBytes,
    read: (offset, bytes) => {
      if (offset < 0 || bytes > buf.length || offset + bytes > checked.dataBytes)
        return Promise.reject(new RangeError(`snapshot data ${path}: a read of ${bytes} bytes at ${offset}`));
      return readFully(fh, path, buf.subarray(0, bytes), checked.dataOffset + offset);
    },
    close: () => fh.close(),
  };
}

async function readFully(fh: FileHandle, path: string, buf: Uint8Array, pos: number): Promise<Uint8Array> {
  for (let off = 0; off < buf.length;) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, pos + off);
    if (bytesRead === 0) throw new StorageCorruptError(path, pos + off, `corrupt snapshot: file ends at ${pos + off}`);
    off += bytesRead;
  }
  return buf;
}
