// A restart restores the state machine from snapshot.snap a piece at a time (issue 16): the state is
// exactly the one saved, and a file with a flipped byte or cut short in any piece is refused when
// the storage is opened — with the StorageCorruptError a whole read gave — before any of it is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvStateMachine, RESTORE_PIECE_BYTES, SnapshotDecodeError } from '../kv/machine.ts';
import { put } from '../kv/test-helpers.ts';
import { crc32c } from '../storage/crc32c.ts';
import { StorageCorruptError } from '../storage/errors.ts';
import { RealFs } from '../storage/fs.ts';
import { SNAPSHOT_FILE } from '../storage/snapshot_file.ts';
import { snapshotMeta, tempDir as tmp } from '../storage/test-util.ts';
import { Wal } from '../storage/wal.ts';
import { openNodeStorage, restoreSnapshotFile } from './storage-adapter.ts';

/** A data dir whose snapshot is a state of four restore pieces; returns its kv snapshot bytes. */
function savedState(dir: string): Uint8Array {
  const m = new KvStateMachine();
  for (let i = 0; i < 60_000; i++) put(m, `key-${String(i).padStart(6, '0')}`, 'v'.repeat(i % 150));
  put(m, 'zz-large', 'x'.repeat(RESTORE_PIECE_BYTES + 12345)); // an entry across two pieces
  const bytes = m.snapshot();
  assert.equal(Math.ceil(bytes.length / RESTORE_PIECE_BYTES), 4, `${bytes.length} bytes`);
  const { wal } = Wal.open(new RealFs(), dir);
  wal.saveSnapshot(snapshotMeta(m.appliedIndex), bytes);
  wal.close();
  return bytes;
}

test('a restart restores a snapshot of several pieces exactly', async (t) => {
  const dir = tmp(t, 'leasekv-restart-');
  const bytes = savedState(dir);
  const opened = await openNodeStorage(dir);
  t.after(() => opened.storage.close());
  assert.equal(opened.snapshot?.dataBytes, bytes.length);
  const kv = new KvStateMachine();
  await restoreSnapshotFile(kv, dir, opened.snapshot!);
  assert.deepEqual(kv.snapshot(), bytes);
  assert.equal(kv.get('key-000149'), 'v'.repeat(149));
  assert.equal(kv.get('zz-large')?.length, RESTORE_PIECE_BYTES + 12345);
});

test('a flipped byte or a cut in any piece of the snapshot file is refused when the storage opens', async (t) => {
  const dir = tmp(t, 'leasekv-restart-');
  savedState(dir);
  const path = join(dir, SNAPSHOT_FILE);
  const good = readFileSync(path);
  const dataOffset = good.length - 4 - (await dataBytesOf(dir));
  for (let k = 0; k < 4; k++) {
    const at = dataOffset + k * RESTORE_PIECE_BYTES + 1000;
    const flipped = Buffer.from(good);
    flipped[at]! ^= 0x01;
    writeFileSync(path, flipped);
    await assert.rejects(
      openNodeStorage(dir),
      (e) => e instanceof StorageCorruptError && /corrupt snapshot: checksum mismatch/.test(e.message),
      `flip in piece ${k}`,
    );
    writeFileSync(path, good.subarray(0, at));
    await assert.rejects(openNodeStorage(dir), StorageCorruptError, `cut in piece ${k}`);
  }
});

test('a kv snapshot that fails its own checks (its file checksum made to match) leaves the state machine untouched', async (t) => {
  const dir = tmp(t, 'leasekv-restart-');
  const bytes = savedState(dir);
  const path = join(dir, SNAPSHOT_FILE);
  const b = Buffer.from(readFileSync(path));
  const dataOffset = b.length - 4 - bytes.length;
  b[dataOffset + 2 * RESTORE_PIECE_BYTES + 777]! ^= 0x01; // in the third piece: caught by the kv CRC32 at the end
  b.writeUInt32LE(crc32c(b, 0, b.length - 4), b.length - 4);
  writeFileSync(path, b);
  const opened = await openNodeStorage(dir);
  t.after(() => opened.storage.close());
  const kv = new KvStateMachine();
  put(kv, 'before', 'the restore');
  await assert.rejects(restoreSnapshotFile(kv, dir, opened.snapshot!), SnapshotDecodeError);
  assert.equal(kv.appliedIndex, 1);
  assert.equal(kv.get('before'), 'the restore');
  assert.equal(kv.size, 1);
});

async function dataBytesOf(dir: string): Promise<number> {
  const opened = await openNodeStorage(dir);
  try {
    return opened.snapshot!.dataBytes;
  } finally {
    await opened.storage.close();
  }
}
