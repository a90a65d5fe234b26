// The snapshot file: one per data folder, replaced atomically (temp file, fsync, rename, fsync the
// folder), so a crash at any point leaves either the old or the new snapshot, whole.
//
//   "LKVSNAP1" | u32 LE meta length | meta (records.ts encodeSnapshotMeta) | data | u32 LE CRC32C of all before
import { posix } from 'node:path';
import type { SnapshotMeta } from '../raft/types.ts';
import { crc32c } from './crc32c.ts';
import { StorageCorruptError } from './errors.ts';
import type { FileSystem } from './fs.ts';
import { decodeSnapshotMeta, encodeSnapshotMeta, PayloadError } from './records.ts';

export const SNAPSHOT_FILE = 'snapshot.snap';
export const SNAPSHOT_TEMP_FILE = 'snapshot.snap.tmp';
/**
 * The node's own snapshot being written beside the WAL (snapshot_save.ts), put in place by
 * Wal.adoptSnapshotFile. A name of its own: an install from the leader writes SNAPSHOT_TEMP_FILE
 * in the WAL worker meanwhile. Deleted on open, like SNAPSHOT_TEMP_FILE.
 */
export const SNAPSHOT_SAVE_TEMP_FILE = 'snapshot.snap.saving';
const MAGIC = new TextEncoder().encode('LKVSNAP1');

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** The file's first bytes: magic, metadata length, metadata. The CRC32C runs on from crc32c(head). */
export function snapshotHead(meta: SnapshotMeta): Uint8Array {
  const m = encodeSnapshotMeta(meta);
  const head = new Uint8Array(MAGIC.length + 4 + m.length);
  head.set(MAGIC, 0);
  new DataView(head.buffer).setUint32(MAGIC.length, m.length, true);
  head.set(m, MAGIC.length + 4);
  return head;
}

/** The file's last 4 bytes: the CRC32C of everything before them. */
export function snapshotTail(crc: number): Uint8Array {
  const tail = new Uint8Array(4);
  new DataView(tail.buffer).setUint32(0, crc, true);
  return tail;
}

/** The file's pieces: magic and metadata, the data itself (not copied), the checksum. */
function snapshotPieces(meta: SnapshotMeta, data: Uint8Array): Uint8Array[] {
  const head = snapshotHead(meta);
  return [head, data, snapshotTail(crc32c(data, 0, data.length, crc32c(head)))];
}

/** Bytes before the checksum in a well-formed file are at least this many. */
export const SNAPSHOT_MIN_FILE_BYTES = MAGIC.length + 8;

/**
 * Decodes a snapshot file's bytes; `file` names it in the error. `crc` is the CRC32C of every byte
 * before the checksum when the caller has computed it already (in slices: snapshot_read.ts).
 */
export function decodeSnapshot(file: string, b: Uint8Array, crc?: number): Snapshot {
  const bad = (offset: number, why: string): StorageCorruptError =>
    new StorageCorruptError(file, offset, `corrupt snapshot: ${why}`);
  if (b.length < SNAPSHOT_MIN_FILE_BYTES) throw bad(0, `file too short (${b.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) throw bad(0, 'bad magic');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint32(b.length - 4, true) !== (crc ?? crc32c(b, 0, b.length - 4)))
    throw bad(b.length - 4, 'checksum mismatch');
  const metaLen = view.getUint32(MAGIC.length, true);
  const metaStart = MAGIC.length + 4;
  if (metaStart + metaLen > b.length - 4) throw bad(MAGIC.length, 'metadata length past end');
  try {
    const meta = decodeSnapshotMeta(b.subarray(metaStart, metaStart + metaLen));
    // A view, not a copy: a snapshot of a million keys is ~120 MiB, and the file's bytes are not
    // used for anything else.
    return { meta, data: b.subarray(metaStart + metaLen, b.length - 4) };
  } catch (e) {
    if (e instanceof PayloadError) throw bad(metaStart, e.message);
    throw e;
  }
}

/** Atomic replace: write temp, fsync it, rename over the old one, fsync the folder. */
export function writeSnapshotFile(fs: FileSystem, dir: string, meta: SnapshotMeta, data: Uint8Array): void {
  const tmp = posix.join(dir, SNAPSHOT_TEMP_FILE);
  writeSnapshotTempFile(fs, tmp, meta, data);
  fs.rename(tmp, posix.join(dir, SNAPSHOT_FILE));
  fs.fsyncDir(dir);
}

/** Writes a whole snapshot file at `path` (replacing one there) and fsyncs it; not yet visible. */
export function writeSnapshotTempFile(fs: FileSystem, path: string, meta: SnapshotMeta, data: Uint8Array): void {
  if (fs.exists(path)) fs.unlink(path);
  const fd = fs.open(path, { create: true });
  try {
    // Piece by piece: the data is never copied into a second buffer of its size.
    for (const piece of snapshotPieces(meta, data)) fs.append(fd, piece);
    fs.fsync(fd);
  } finally {
    fs.close(fd);
  }
}

/** Where a checked snapshot file's parts are (checkSnapshotFile): a restart reads the data from it. */
export interface SnapshotFileLayout {
  readonly meta: SnapshotMeta;
  /** The data's first byte in the file (after magic, metadata length and metadata). */
  readonly dataOffset: number;
  readonly dataBytes: number;
  readonly fileBytes: number;
}

/** Bytes read and checksummed at a time by checkSnapshotFile: one buffer of this size, reused. */
export const SNAPSHOT_CHECK_SLICE_BYTES = 4 * 1024 * 1024;

/**
 * Checks the snapshot file at `path` as decodeSnapshot checks its bytes — the same errors, in the
 * same order — reading it in slices into one reused buffer, never whole (issue 16: a restart read
 * the ~100 MiB file into memory here and held it until the state machine was restored from it).
 * Returns the metadata and where the data is; the data itself is read again by whoever restores
 * from it (the kv snapshot's own CRC32 covers it there).
 */
export function checkSnapshotFile(
  fs: FileSystem,
  path: string,
  sliceBytes = SNAPSHOT_CHECK_SLICE_BYTES,
): SnapshotFileLayout {
  const bad = (offset: number, why: string): StorageCorruptError =>
    new StorageCorruptError(path, offset, `corrupt snapshot: ${why}`);
  const fd = fs.open(path, { create: false });
  try {
    const size = fs.size(path);
    if (size < SNAPSHOT_MIN_FILE_BYTES) throw bad(0, `file too short (${size} bytes)`);
    const buf = new Uint8Array(Math.min(sliceBytes, size));
    const readAll = (at: number, n: number): Uint8Array => {
      const got = fs.read(fd, at, n, buf);
      if (got.length < n) throw bad(at + got.length, `file ends at ${at + got.length}, not at ${size}`);
      return got;
    };
    const first = readAll(0, MAGIC.length + 4);
    for (let i = 0; i < MAGIC.length; i++) if (first[i] !== MAGIC[i]) throw bad(0, 'bad magic');
    const metaStart = MAGIC.length + 4;
    const metaLen = new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(MAGIC.length, true);
    let crc = 0;
    for (let at = 0; at < size - 4;) {
      const n = Math.min(buf.length, size - 4 - at);
      crc = crc32c(readAll(at, n), 0, n, crc);
      at += n;
    }
    const tail = readAll(size - 4, 4);
    if (new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true) !== crc)
      throw bad(size - 4, 'checksum mismatch');
    if (metaStart + metaLen > size - 4) throw bad(MAGIC.length, 'metadata length past end');
    try {
      const meta = decodeSnapshotMeta(fs.read(fd, metaStart, metaLen));
      return { meta, dataOffset: metaStart + metaLen, dataBytes: size - 4 - metaStart - metaLen, fileBytes: size };
    } catch (e) {
      if (e instanceof PayloadError) throw bad(metaStart, e.message);
      throw e;
    }
  } finally {
    fs.close(fd);
  }
}

/**
 * The metadata and data offset of a snapshot file from its first bytes (`head`: at least up to the
 * end of the metadata), with no checksum checked: for a file checkSnapshotFile has checked, to
 * find the data again. Throws StorageCorruptError.
 */
export function snapshotFileHead(file: string, head: Uint8Array): { meta: SnapshotMeta; dataOffset: number } {
  const bad = (why: string): StorageCorruptError => new StorageCorruptError(file, 0, `corrupt snapshot: ${why}`);
  if (head.length < SNAPSHOT_MIN_FILE_BYTES - 4) throw bad('file too short');
  for (let i = 0; i < MAGIC.length; i++) if (head[i] !== MAGIC[i]) throw bad('bad magic');
  const metaStart = MAGIC.length + 4;
  const metaEnd = metaStart + new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(MAGIC.length, true);
  if (metaEnd > head.length) throw bad('metadata length past the head read');
  try {
    return { meta: decodeSnapshotMeta(head.subarray(metaStart, metaEnd)), dataOffset: metaEnd };
  } catch (e) {
    if (e instanceof PayloadError) throw bad(e.message);
    throw e;
  }
}

export function readSnapshotFile(fs: FileSystem, dir: string): Snapshot | null {
  const path = posix.join(dir, SNAPSHOT_FILE);
  if (!fs.exists(path)) return null;
  return decodeSnapshot(path, fs.readFile(path));
}
