// The snapshot file read a chunk at a time to send it (snapshot_source.ts): the same metadata and
// bytes as a whole read, the same checks, the transfer's CRC32 computed on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { patternBytes, snapshotMeta, tempDir } from './test-util.ts';
import { StorageCorruptError } from './errors.ts';
import { RealFs } from './fs.ts';
import { SNAPSHOT_FILE, writeSnapshotFile } from './snapshot_file.ts';
import { openSnapshotSource, type FileSnapshotSource } from './snapshot_source.ts';

function read(src: FileSnapshotSource, offset: number, bytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    src.read(offset, bytes, (err, data) => (err === null && data !== null ? resolve(data) : reject(err))),
  );
}

test('chunks read from the source are the snapshot data; its CRC32 and size are the transfer’s', async (t) => {
  const dir = tempDir(t, 'leasekv-snapsrc-');
  assert.equal(await openSnapshotSource(dir), null);
  const data = patternBytes(3 * 1024 * 1024 + 17, 5);
  writeSnapshotFile(new RealFs(), dir, snapshotMeta(7), data);
  const src = await openSnapshotSource(dir, 256 * 1024); // slices smaller than the file: several passes
  assert.ok(src !== null);
  try {
    assert.deepEqual(src.meta, snapshotMeta(7));
    assert.equal(src.totalBytes, data.length);
    assert.equal(src.crc32, crc32(data));
    const back = Buffer.alloc(data.length);
    for (let at = 0; at < data.length; at += 1 << 20) {
      const n = Math.min(1 << 20, data.length - at);
      back.set(await read(src, at, n), at);
    }
    assert.ok(back.equals(data));
    // The open file keeps its bytes when a newer snapshot is renamed over it.
    writeSnapshotFile(new RealFs(), dir, snapshotMeta(9), patternBytes(1000, 6));
    assert.ok(Buffer.from(await read(src, 0, 100)).equals(data.subarray(0, 100)));
  } finally {
    src.release();
  }
  await assert.rejects(read(src, 0, 10), /bad read/);
});

test('a damaged or short file is a StorageCorruptError, as on recovery', async (t) => {
  const dir = tempDir(t, 'leasekv-snapsrc-');
  writeSnapshotFile(new RealFs(), dir, snapshotMeta(7), patternBytes(100_000, 1));
  const path = join(dir, SNAPSHOT_FILE);
  const b = readFileSync(path);
  b[50_000] = (b[50_000] ?? 0) ^ 1;
  writeFileSync(path, b);
  await assert.rejects(
    openSnapshotSource(dir, 4096),
    (e) => e instanceof StorageCorruptError && /checksum/.test(e.message),
  );
  b[50_000] = (b[50_000] ?? 0) ^ 1;
  b[3] = 0; // the magic
  writeFileSync(path, b);
  await assert.rejects(openSnapshotSource(dir), (e) => e instanceof StorageCorruptError && /magic/.test(e.message));
  writeFileSync(path, b.subarray(0, 10));
  await assert.rejects(openSnapshotSource(dir), (e) => e instanceof StorageCorruptError && /too short/.test(e.message));
});
