// Reading the snapshot file to send it to a follower (issue 13), off the WAL's thread. The WAL
// worker handles one request at a time, so a snapshot read there (~100 MiB with a million keys:
// the read and its CRC32C took 0.5–0.7 s on the build machine) held up every append and fsync
// queued behind it, and writes waited that long while a wiped follower was caught up. Here the
// bytes come through libuv's thread pool (fs.promises.readFile) and the checksum is computed in
// slices on the calling thread, yielding between them, so neither the WAL nor the event loop waits
// for the whole file. Reading beside the WAL is safe: the file is only ever replaced whole (temp
// file and rename, snapshot_file.ts), and an open file keeps its bytes if it is replaced meanwhile
// (the caller checks the index it got).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from './crc32c.ts';
import { decodeSnapshot, SNAPSHOT_FILE, SNAPSHOT_MIN_FILE_BYTES, type Snapshot } from './snapshot_file.ts';

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
