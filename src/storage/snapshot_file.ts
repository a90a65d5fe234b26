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
const MAGIC = new TextEncoder().encode('LKVSNAP1');

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export function encodeSnapshot(meta: SnapshotMeta, data: Uint8Array): Uint8Array {
  const m = encodeSnapshotMeta(meta);
  const out = new Uint8Array(MAGIC.length + 4 + m.length + data.length + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(MAGIC.length, m.length, true);
  out.set(m, MAGIC.length + 4);
  out.set(data, MAGIC.length + 4 + m.length);
  view.setUint32(out.length - 4, crc32c(out, 0, out.length - 4), true);
  return out;
}

/** Decodes a snapshot file's bytes; `file` names it in the error. */
export function decodeSnapshot(file: string, b: Uint8Array): Snapshot {
  const bad = (offset: number, why: string): StorageCorruptError =>
    new StorageCorruptError(file, offset, `corrupt snapshot: ${why}`);
  if (b.length < MAGIC.length + 8) throw bad(0, `file too short (${b.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) throw bad(0, 'bad magic');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint32(b.length - 4, true) !== crc32c(b, 0, b.length - 4)) throw bad(b.length - 4, 'checksum mismatch');
  const metaLen = view.getUint32(MAGIC.length, true);
  const metaStart = MAGIC.length + 4;
  if (metaStart + metaLen > b.length - 4) throw bad(MAGIC.length, 'metadata length past end');
  try {
    const meta = decodeSnapshotMeta(b.subarray(metaStart, metaStart + metaLen));
    return { meta, data: b.slice(metaStart + metaLen, b.length - 4) };
  } catch (e) {
    if (e instanceof PayloadError) throw bad(metaStart, e.message);
    throw e;
  }
}

/** Atomic replace: write temp, fsync it, rename over the old one, fsync the folder. */
export function writeSnapshotFile(fs: FileSystem, dir: string, meta: SnapshotMeta, data: Uint8Array): void {
  const tmp = posix.join(dir, SNAPSHOT_TEMP_FILE);
  if (fs.exists(tmp)) fs.unlink(tmp);
  const fd = fs.open(tmp, { create: true });
  try {
    fs.append(fd, encodeSnapshot(meta, data));
    fs.fsync(fd);
  } finally {
    fs.close(fd);
  }
  fs.rename(tmp, posix.join(dir, SNAPSHOT_FILE));
  fs.fsyncDir(dir);
}

export function readSnapshotFile(fs: FileSystem, dir: string): Snapshot | null {
  const path = posix.join(dir, SNAPSHOT_FILE);
  if (!fs.exists(path)) return null;
  return decodeSnapshot(path, fs.readFile(path));
}
