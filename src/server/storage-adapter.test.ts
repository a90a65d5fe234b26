// The node's storage (storage-adapter.ts) over the real WAL worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotMeta } from '../raft/types.ts';
import { openNodeStorage } from './storage-adapter.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const meta = (index: number): SnapshotMeta => ({
  index,
  term: 2,
  confState: { voters: ['a', 'b', 'c'], learners: [], removed: [] },
});

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

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
