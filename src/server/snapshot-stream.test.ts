// A running node takes its own snapshot by streaming it into the file (issue 16): the state
// machine's pages are written a batch at a time, and the storage is never handed the snapshot as one
// buffer (saveSnapshot with bytes is the simulator's path only).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { KvStateMachine } from '../kv/machine.ts';
import { RealFs } from '../storage/fs.ts';
import { readSnapshotFile } from '../storage/snapshot_file.ts';
import { post } from './api/test-util.ts';
import { startSoloNode } from './test-node.ts';
import type { NodeStorage } from './storage-adapter.ts';
import { sleep } from '../testkit/wait.ts';

test('a node saves its own snapshot as a body of batches, never as one buffer', async (t) => {
  const calls = { whole: 0, body: 0, saved: 0, largestBatch: 0 };
  const wrap = (s: NodeStorage): NodeStorage => ({
    persist: (req) => s.persist(req),
    saveSnapshot: async (m, d) => {
      calls.whole++;
      await s.saveSnapshot(m, d);
      calls.saved++;
    },
    saveSnapshotBody: async (m, b) => {
      calls.body++;
      const measured = {
        totalBytes: b.totalBytes,
        next: () => {
          const batch = b.next();
          if (batch !== null)
            calls.largestBatch = Math.max(
              calls.largestBatch,
              batch.reduce((n, p) => n + p.length, 0),
            );
          return batch;
        },
        release: () => b.release(),
      };
      await s.saveSnapshotBody(m, measured);
      calls.saved++;
    },
    loadSnapshot: () => s.loadSnapshot(),
    readEntries: (lo, hi, maxBytes) => s.readEntries(lo, hi, maxBytes),
    close: () => s.close(),
    drainFsyncLatenciesMs: () => s.drainFsyncLatenciesMs(),
  });
  // A snapshot every 10 entries; the node is stopped before its folder is read, which goes at the end.
  const solo = await startSoloNode('snapstream', { snapshotThreshold: '10' }, { wrapStorage: wrap });
  t.after(() => rmSync(solo.dir, { recursive: true, force: true }));
  try {
    const put = (k: string): ReturnType<typeof post> =>
      post(solo.port, '/leasekv.v1.KV/Put', JSON.stringify({ key: k, value: `value of ${k}` }));
    // Generous: on a loaded machine the election, 30 writes and a snapshot take seconds.
    const end = Date.now() + 60_000;
    while ((await put('k0')).status !== 200) {
      assert.ok(Date.now() < end, 'no leader');
      await sleep(50);
    }
    for (let i = 1; i < 30; i++) assert.equal((await put(`k${i}`)).status, 200);
    while (calls.saved === 0) {
      assert.ok(Date.now() < end, 'no snapshot saved');
      await sleep(20);
    }
    assert.equal(calls.whole, 0, 'the snapshot was handed to storage as one buffer');
    assert.ok(calls.largestBatch > 0 && calls.largestBatch <= (4 << 20) + (32 << 10));
  } finally {
    await solo.running.stop();
  }
  const snap = readSnapshotFile(new RealFs(), solo.dir);
  assert.ok(snap !== null);
  const kv = KvStateMachine.restore(snap.data);
  assert.equal(kv.appliedIndex, snap.meta.index);
  // The first snapshot may be the one on disk (every 10 entries: a no-op, then puts): k0 is in it.
  assert.equal(kv.getKv('k0')?.value, 'value of k0');
});
