// The snapshot file as a source to send to a follower a piece at a time (issue 16): the leader used
// to read the whole file (~100 MiB with a million keys) into one buffer and hold it while any
// transfer ran (snapshot_read.ts). Here the file is checked in one pass of slices (its CRC32C, and
// the CRC32 of its data that the transfer announces), then chunks are read from it as the transfer
// asks for them. The file stays open until the transfer ends: a newer snapshot renamed over it
// meanwhile does not change the bytes being sent (the caller checks the index it got).
import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SnapshotMeta } from '../raft/types.ts';
import { crc32c } from './crc32c.ts';
import { StorageCorruptError } from './errors.ts';
import { decodeSnapshot, SNAPSHOT_FILE, SNAPSHOT_MIN_FILE_BYTES } from './snapshot_file.ts';
import { SNAPSHOT_CRC_SLICE_BYTES } from './snapshot_read.ts';

/** The data of a snapshot file, read on demand (src/transport's SnapshotSource). */
export interface FileSnapshotSource {
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  /** CRC32 (zlib) of the data: the transfer's checksum (src/transport/codec.ts, TransferId). */
  readonly crc32: number;
  read(offset: number, bytes: number, done: (err: Error | null, data: Uint8Array | null) => void): void;
  /** Closes the file; reads after it fail. Idempotent. */
  release(): void;
}

/** Opens and checks the data folder's snapshot; null if there is none. Throws StorageCorruptError. */
export async function openSnapshotSource(
  dir: string,
  sliceBytes = SNAPSHOT_CRC_SLICE_BYTES,
): Promise<FileSnapshotSource | null> {
  const path = join(dir, SNAPSHOT_FILE);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return await checked(fh, path, sliceBytes);
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

async function readAt(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, pos + off);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${pos + off}`);
    off += bytesRead;
  }
}

async function checked(fh: FileHandle, path: string, sliceBytes: number): Promise<FileSnapshotSource> {
  const size = (await fh.stat()).size;
  const bad = (why: string): StorageCorruptError => new StorageCorruptError(path, 0, `corrupt snapshot: ${why}`);
  if (size < SNAPSHOT_MIN_FILE_BYTES) throw bad(`file too short (${size} bytes)`);
  const lenBytes = Buffer.alloc(SNAPSHOT_MIN_FILE_BYTES - 4);
  await readAt(fh, lenBytes, 0);
  const metaEnd = lenBytes.length + lenBytes.readUInt32LE(lenBytes.length - 4);
  if (metaEnd > size - 4) throw bad('metadata length past end');
  // One pass: the file's CRC32C (as snapshot_read.ts checks it) and the data's CRC32, in slices.
  const slice = Buffer.allocUnsafe(Math.min(sliceBytes, size));
  let fileCrc = 0;
  let dataCrc = 0;
  const head = Buffer.allocUnsafe(metaEnd);
  for (let at = 0; at < size - 4;) {
    const n = Math.min(slice.length, size - 4 - at);
    const piece = slice.subarray(0, n);
    await readAt(fh, piece, at);
    fileCrc = crc32c(piece, 0, n, fileCrc);
    if (at < metaEnd) piece.copy(head, at, 0, Math.min(n, metaEnd - at));
    if (at + n > metaEnd) dataCrc = crc32(piece.subarray(Math.max(0, metaEnd - at)), dataCrc);
    at += n;
  }
  const tail = Buffer.allocUnsafe(4);
  await readAt(fh, tail, size - 4);
  // The header and checksum are checked by the same code as a whole file's (the data part empty).
  const { meta } = decodeSnapshot(path, Buffer.concat([head, tail]), fileCrc);
  const totalBytes = size - 4 - metaEnd;
  let closed = false;
  return {
    meta,
    totalBytes,
    crc32: dataCrc,
    read(offset, bytes, done) {
      if (closed || offset < 0 || offset + bytes > totalBytes)
        return void queueMicrotask(() => done(new Error(`snapshot source ${path}: bad read`), null));
      const buf = Buffer.allocUnsafe(bytes);
      readAt(fh, buf, metaEnd + offset).then(
        () => done(null, buf),
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e)), null),
      );
    },
    release() {
      if (closed) return;
      closed = true;
      void fh.close().catch(() => undefined);
    },
  };
}
