// The snapshot file read beside the WAL (snapshot_read.ts): the same snapshot and the same checks
// as readSnapshotFile (that the node's storage does not queue it behind the WAL worker:
// src/server/storage-adapter.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { patternBytes, snapshotMeta, tempDir as tmp } from './test-util.ts';
import { StorageCorruptError } from './errors.ts';
import { RealFs } from './fs.ts';
import { SNAPSHOT_FILE, writeSnapshotFile } from './snapshot_file.ts';
import { readSnapshotFileAsync } from './snapshot_read.ts';

const tempDir = (t: { after: (fn: () => void) => void }): string => tmp(t, 'leasekv-snapread-');
const meta = snapshotMeta;
const bytes = patternBytes;

test('reads what writeSnapshotFile wrote, checksummed in slices; none is null', async (t) => {
  const dir = tempDir(t);
  assert.equal(await readSnapshotFileAsync(dir), null);
  const data = bytes(3 * 1024 * 1024 + 17, 5);
  writeSnapshotFile(new RealFs(), dir, meta(7), data);
  const got = await readSnapshotFileAsync(dir, 256 * 1024);
  assert.deepEqual(got?.meta, meta(7));
  assert.ok(got !== null && Buffer.from(got.data).equals(data));
});

test('a damaged or short file is a StorageCorruptError, as on recovery', async (t) => {
  const dir = tempDir(t);
  writeSnapshotFile(new RealFs(), dir, meta(7), bytes(100_000, 1));
  const path = join(dir, SNAPSHOT_FILE);
  const b = readFileSync(path);
  b[50_000] = (b[50_000] ?? 0) ^ 1;
  writeFileSync(path, b);
  await assert.rejects(
    readSnapshotFileAsync(dir, 4096),
    (e) => e instanceof StorageCorruptError && /checksum/.test(e.message),
  );
  writeFileSync(path, b.subarray(0, 10));
  await assert.rejects(
    readSnapshotFileAsync(dir),
    (e) => e instanceof StorageCorruptError && /too short/.test(e.message),
  );
});
