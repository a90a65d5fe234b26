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
import { crc32c } from './crc32c.ts';
import { checkSnapshotFile, decodeSnapshot, SNAPSHOT_FILE, writeSnapshotFile } from './snapshot_file.ts';
import { openSnapshotData, readSnapshotFileAsync } from './snapshot_read.ts';

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

/** What decodeSnapshot (the whole-buffer check) says of `b`: its error's message, or 'ok'. */
function wholeVerdict(path: string, b: Uint8Array): string {
  try {
    decodeSnapshot(path, b);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof StorageCorruptError);
    return e.message;
  }
}

test('a restart checks the file in slices with the same verdict as a whole read: a flip in any slice, a cut anywhere (issue 16)', (t) => {
  const dir = tempDir(t);
  const fs = new RealFs();
  const slice = 4096;
  writeSnapshotFile(fs, dir, meta(7), bytes(5 * slice + 123, 3));
  const path = join(dir, SNAPSHOT_FILE);
  const good = readFileSync(path);
  const layout = checkSnapshotFile(fs, path, slice);
  assert.deepEqual(layout.meta, meta(7));
  assert.equal(layout.fileBytes, good.length);
  assert.ok(
    Buffer.from(good.subarray(layout.dataOffset, layout.dataOffset + layout.dataBytes)).equals(
      bytes(5 * slice + 123, 3),
    ),
  );
  const damaged: [string, Uint8Array][] = [];
  // A flipped byte in every slice (the magic, the metadata length, the metadata, the data, the checksum).
  for (const at of [0, 9, 14, slice - 1, slice, 2 * slice + 7, 4 * slice + 1, good.length - 5, good.length - 1]) {
    const b = Buffer.from(good);
    b[at]! ^= 0x10;
    damaged.push([`flip at ${at}`, b]);
  }
  // Cut short anywhere: inside the head, in each slice, in the checksum.
  for (const n of [0, 5, 11, 12, 30, slice, 3 * slice + 1, good.length - 4, good.length - 1])
    damaged.push([`cut to ${n}`, good.subarray(0, n)]);
  const tooLong = Buffer.alloc(12);
  good.copy(tooLong, 0, 0, 8);
  tooLong.writeUInt32LE(0xffff, 8);
  damaged.push(['metadata length past the end', Buffer.concat([tooLong, Buffer.from(crc32cBytes(tooLong))])]);
  for (const [what, b] of damaged) {
    writeFileSync(path, b);
    const expected = wholeVerdict(path, b);
    assert.notEqual(expected, 'ok', what);
    assert.throws(
      () => checkSnapshotFile(fs, path, slice),
      (e) => e instanceof StorageCorruptError && e.message === expected,
      `${what}: ${expected}`,
    );
  }
});

function crc32cBytes(b: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(crc32c(b, 0, b.length), 0);
  return out;
}

test('the restart reads the checked data through one buffer, and refuses a file replaced after the check', async (t) => {
  const dir = tempDir(t);
  const fs = new RealFs();
  const data = bytes(3 * 65536 + 5, 8);
  writeSnapshotFile(fs, dir, meta(9), data);
  const layout = checkSnapshotFile(fs, join(dir, SNAPSHOT_FILE));
  const reader = await openSnapshotData(dir, layout, 65536);
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < reader.totalBytes; at += 65536)
    pieces.push(await reader.read(at, Math.min(65536, reader.totalBytes - at)));
  assert.equal(new Set(pieces.map((p) => p.buffer)).size, 1, 'one buffer, reused');
  await assert.rejects(reader.read(0, 65537), RangeError);
  await reader.close();
  writeSnapshotFile(fs, dir, meta(10), data);
  await assert.rejects(
    openSnapshotData(dir, layout, 65536),
    (e) => e instanceof StorageCorruptError && /changed after recovery checked it/.test(e.message),
  );
  writeSnapshotFile(fs, dir, meta(9), data.subarray(1));
  await assert.rejects(openSnapshotData(dir, layout, 65536), StorageCorruptError);
});
