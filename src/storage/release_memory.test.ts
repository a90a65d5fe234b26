// A snapshot handed to the WAL worker is freed once written (release_memory.ts): the worker's own
// off-heap memory, as it publishes it (src/util/thread-memory.ts), falls back after the write. On
// Node 20 a memory-reducing collection alone never freed a buffer transferred from another thread:
// the worker kept every written snapshot resident (docs/benchmarks.md, "Scale and memory").
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EntryType } from '../raft/types.ts';
import { threadMemory, threadMemoryPublications } from '../util/thread-memory.ts';
import { WorkerBackend } from './backend.ts';
import { collectGarbage } from './release_memory.ts';

const MiB = 1 << 20;
const SNAPSHOT_BYTES = 64 * MiB;

/**
 * The WAL worker's off-heap bytes: the first of its next `readings` published readings for which
 * `ok` holds, or the last of them. The worker publishes once a second and right after the
 * collection that follows a snapshot write; counting readings rather than waiting a time keeps
 * the check independent of the machine's speed (a buffer the collection missed is freed only by
 * some later collection, which an idle worker may run after tens of seconds).
 */
async function walExternal(readings: number, ok: (bytes: number) => boolean): Promise<number> {
  const since = threadMemoryPublications('wal');
  let last = NaN;
  for (let seen = since, i = 0; seen < since + readings && i < 600; i++) {
    await sleep(50);
    const now = threadMemoryPublications('wal');
    if (now === seen) continue;
    seen = now;
    last = threadMemory()['wal']?.external ?? NaN;
    if (ok(last)) return last;
  }
  return last;
}

/** A WAL worker on a temp folder, closed and removed after the test, and its off-heap bytes at start. */
async function openWalWorker(t: TestContext): Promise<{ backend: WorkerBackend; before: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-release-'));
  const backend = new WorkerBackend(dir);
  t.after(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await backend.open();
  return { backend, before: await walExternal(1, (b) => b >= 0) };
}

test('the WAL worker frees a snapshot it was handed once it is written', async (t) => {
  const { backend, before } = await openWalWorker(t);
  assert.ok(before < 16 * MiB, `worker starts with ${before} bytes off its heap`);

  const data = Buffer.allocUnsafeSlow(SNAPSHOT_BYTES).fill(7);
  const meta = { index: 10, term: 1, confState: { voters: ['n1'], learners: [] } };
  await backend.writeBatch([
    {
      entries: [],
      hardState: { term: 1, votedFor: null, commit: 10 },
      snapshot: { meta, data },
      giveSnapshotBytes: true,
    },
  ]);
  assert.equal(data.byteLength, 0, 'the bytes moved to the worker');

  const after = await walExternal(3, (b) => b < before + 16 * MiB);
  assert.ok(after < before + 16 * MiB, `the worker still holds ${after} bytes off its heap after the write`);
  // The snapshot itself was written whole.
  const loaded = await backend.loadSnapshot();
  assert.equal(loaded?.data.byteLength, SNAPSHOT_BYTES);
});

test("the WAL worker frees the node's own snapshot once it is written beside the WAL and put in place", async (t) => {
  const { backend, before } = await openWalWorker(t);
  const data = Buffer.allocUnsafeSlow(SNAPSHOT_BYTES).fill(9);
  const meta = { index: 10, term: 1, confState: { voters: ['n1'], learners: [] } };
  await backend.writeBatch([{ entries: [], hardState: { term: 1, votedFor: null, commit: 0 } }]);
  await backend.prepareSnapshot({ meta, data }, true);
  assert.equal(data.byteLength, 0, 'the bytes moved to the worker');
  await backend.writeBatch([{ entries: [], hardState: null, savedSnapshot: meta }]);
  const after = await walExternal(3, (b) => b < before + 16 * MiB);
  assert.ok(after < before + 16 * MiB, `the worker still holds ${after} bytes off its heap after the write`);
  const loaded = await backend.loadSnapshot();
  assert.equal(loaded?.meta.index, 10);
  assert.equal(loaded?.data.byteLength, SNAPSHOT_BYTES);
});

test('a compacting collection gives back the pages of a heap whose survivors are scattered', () => {
  const heapTotal = (): number => process.memoryUsage().heapTotal;
  // Old-space pages full of objects, then 98 % of them dropped: every page keeps a few survivors.
  const all: { a: number; s: string }[] = [];
  for (let i = 0; i < 600_000; i++) all.push({ a: i, s: `y${i}` });
  collectGarbage(); // promoted: all of it is in the old generation now
  const keep = all.filter((_, i) => i % 50 === 0);
  all.length = 0;
  const before = heapTotal();
  // One call: without compaction its collections free the objects but keep every page that holds
  // a survivor (measured: 85 MiB of heap before, 79 MiB after).
  collectGarbage({ compact: true });
  const after = heapTotal();
  assert.equal(keep.length, 12_000);
  assert.ok(
    after < before - 16 * MiB,
    `heap ${Math.round(before / MiB)} MiB before the collection, ${Math.round(after / MiB)} MiB after`,
  );
});

test('the WAL worker frees the copies of the entries it wrote once it goes idle', async (t) => {
  // Each batch's entries arrive as copies, a buffer each, garbage once written; the worker's small
  // heap is rarely collected, so without its idle collection (util/idle-collect.ts) they stayed
  // allocated: 6–19 MiB on an idle member after a million-key load (docs/benchmarks.md, "Issue 16,
  // session 7: steady-state memory").
  const { backend, before } = await openWalWorker(t);
  const data = Buffer.alloc(16 * 1024, 3);
  let index = 1;
  for (let batch = 0; batch < 48; batch++) {
    const entries = Array.from({ length: 32 }, () => ({ index: index++, term: 1, type: EntryType.Normal, data }));
    await backend.writeBatch([{ entries, hardState: { term: 1, votedFor: null, commit: 0 } }]);
  }
  // 24 MiB of entries written. Readings, not time: the worker publishes once a second.
  const after = await walExternal(12, (b) => b < before + 4 * MiB);
  assert.ok(after < before + 4 * MiB, `the worker holds ${after} bytes off its heap, ${before} before the writes`);
});
