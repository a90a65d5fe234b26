// The node's storage (storage-adapter.ts) over the real WAL worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patternBytes, snapshotMeta, tempDir as tmp } from '../storage/test-util.ts';
import { openNodeStorage } from './storage-adapter.ts';

const tempDir = (t: { after: (fn: () => void) => void }): string => tmp(t, 'leasekv-storage-');
const meta = snapshotMeta;
const bytes = patternBytes;

test('the snapshot to send is read beside the WAL worker, not behind a snapshot it is saving (issue 13)', async (t) => {
  const dir = tempDir(t);
  const opened = await openNodeStorage(dir);
  const s = opened.storage;
  t.after(() => s.close());
  await s.saveSnapshot(meta(1), bytes(1024, 2));
  // A large save occupies the WAL worker (write, fsync, rename); the read is asked for after it.
  const order: string[] = [];
  const saving = s.saveSnapshot(meta(2), bytes(48 * 1024 * 1024, 3)).then(() => order.push('saved'));
  const loading = s.loadSnapshot().then((snap) => order.push(`loaded ${snap?.meta.index}`));
  await Promise.all([saving, loading]);
  // Through the WAL worker the read came after the save and found snapshot 2.
  assert.deepEqual(order, ['loaded 1', 'saved']);
});
