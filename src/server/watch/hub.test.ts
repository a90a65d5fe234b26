// The watch hub's guarantees, without a network: order, no duplicates, no gaps (or a clear
// CompactedError), whole revisions, slow watchers cut off, progress notifications.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeEvent } from '../../kv/machine.ts';
import {
  CompactedError,
  DEFAULT_WATCH_LIMITS,
  TooManyWatchersError,
  WatchHub,
  WatcherTooSlowError,
  type WatchBatch,
  type WatchLimits,
} from './hub.ts';

const put = (key: string, value: string, rev: number): ChangeEvent => ({
  type: 'put',
  kv: { key, value, create: rev, mod: rev, version: 1 },
});
const del = (key: string, rev: number): ChangeEvent => ({
  type: 'delete',
  kv: { key, value: '', create: 0, mod: rev, version: 0 },
  prev: { key, value: 'old', create: 1, mod: 1, version: 1 },
});

function hub(limits: Partial<WatchLimits> = {}, revision = 0): WatchHub {
  return new WatchHub(revision, { ...DEFAULT_WATCH_LIMITS, progressIntervalMs: 60_000, ...limits });
}

/** Takes n batches with events from an iterator (progress notifications skipped). */
async function take(it: AsyncIterator<WatchBatch>, n: number): Promise<WatchBatch[]> {
  const out: WatchBatch[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done === true) break;
    if (r.value.events.length > 0) out.push(r.value);
  }
  return out;
}

test('live: matching events in order, one batch per revision, prefix and prevKv honoured', async () => {
  const h = hub();
  try {
    const w = h.watch({ key: 'cfg/', prefix: true, startRevision: 0, prevKv: false })[Symbol.asyncIterator]();
    const exact = h.watch({ key: 'cfg/a', prefix: false, startRevision: 0, prevKv: true })[Symbol.asyncIterator]();
    h.publish(1, [put('cfg/a', '1', 1)]);
    h.publish(2, [put('other', 'x', 2)]);
    h.publish(3, [put('cfg/b', '1', 3), del('cfg/a', 3)]); // one transaction
    assert.deepEqual(await take(w, 2), [
      { revision: 1, events: [put('cfg/a', '1', 1)] },
      { revision: 3, events: [put('cfg/b', '1', 3), { type: 'delete', kv: del('cfg/a', 3).kv }] },
    ]);
    assert.deepEqual(await take(exact, 2), [
      { revision: 1, events: [put('cfg/a', '1', 1)] },
      { revision: 3, events: [del('cfg/a', 3)] },
    ]);
  } finally {
    h.close();
  }
});

test('from any past revision: every matching revision after it exactly once, then live (no gaps, no duplicates)', async () => {
  for (let seed = 1; seed <= 30; seed++) {
    let x = seed;
    const rand = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
    const h = hub({ maxPendingBytes: 1024 });
    try {
      const all: { rev: number; key: string }[] = [];
      let rev = 0;
      const publish = (): void => {
        rev++;
        const key = ['a', 'b', 'c'][Math.floor(rand() * 3)] as string;
        all.push({ rev, key });
        h.publish(rev, [put(key, `v${rev}`, rev)]);
      };
      for (let i = 0; i < 40; i++) publish();
      const start = 1 + Math.floor(rand() * 45);
      const it = h.watch({ key: 'b', prefix: false, startRevision: start, prevKv: false })[Symbol.asyncIterator]();
      // Interleave reading with more publishes: catch-up and live must join without a seam.
      const got: number[] = [];
      for (let i = 0; i < 40; i++) {
        publish();
        if (rand() < 0.5) {
          const want = all.filter((e) => e.key === 'b' && e.rev >= start).length;
          if (got.length < want) got.push(...(await take(it, 1)).map((b) => b.revision));
        }
      }
      const want = all.filter((e) => e.key === 'b' && e.rev >= start).map((e) => e.rev);
      got.push(...(await take(it, want.length - got.length)).map((b) => b.revision));
      assert.deepEqual(got, want, `seed ${seed}, start ${start}`);
    } finally {
      h.close();
    }
  }
});

test('compacted: older than the history held → CompactedError; a snapshot jump ends watchers behind it', async () => {
  const h = hub({ maxHistoryRevisions: 5 });
  try {
    for (let r = 1; r <= 10; r++) h.publish(r, [put('k', `${r}`, r)]);
    assert.equal(h.oldest, 6);
    assert.throws(
      () => h.watch({ key: 'k', prefix: false, startRevision: 5, prevKv: false }),
      (e: unknown) => e instanceof CompactedError && e.oldest === 6,
    );
    const ok = h.watch({ key: 'k', prefix: false, startRevision: 6, prevKv: false })[Symbol.asyncIterator]();
    assert.deepEqual(
      (await take(ok, 5)).map((b) => b.revision),
      [6, 7, 8, 9, 10],
    );
    // A watcher that has not caught up when the history moves past it ends with CompactedError.
    const lagging = h.watch({ key: 'k', prefix: false, startRevision: 7, prevKv: false })[Symbol.asyncIterator]();
    for (let r = 11; r <= 20; r++) h.publish(r, [put('k', `${r}`, r)]);
    await assert.rejects(lagging.next(), CompactedError);
    const live = h.watch({ key: 'k', prefix: false, startRevision: 0, prevKv: false })[Symbol.asyncIterator]();
    assert.deepEqual((await live.next()).value, { revision: 20, events: [] });
    const pending = live.next();
    h.reset(30); // a snapshot from the leader: 21..30 never seen here
    await assert.rejects(pending, /was skipped: this member installed a snapshot/);
    assert.throws(() => h.watch({ key: 'k', prefix: false, startRevision: 25, prevKv: false }), CompactedError);
    const after = h.watch({ key: 'k', prefix: false, startRevision: 31, prevKv: false })[Symbol.asyncIterator]();
    h.publish(31, [put('k', '31', 31)]);
    assert.equal((await after.next()).value?.revision, 31);
  } finally {
    h.close();
  }
});

test('a slow watcher is cut off with a clear error; the others go on', async () => {
  const h = hub({ maxPendingBytes: 2000 });
  try {
    const slow = h.watch({ key: '', prefix: true, startRevision: 0, prevKv: false })[Symbol.asyncIterator]();
    const fast = h.watch({ key: '', prefix: true, startRevision: 0, prevKv: false })[Symbol.asyncIterator]();
    assert.deepEqual(
      (await slow.next()).value,
      { revision: 0, events: [] },
      'created (caught up at 0); then the slow reader stops reading',
    );
    assert.deepEqual((await fast.next()).value, { revision: 0, events: [] });
    for (let r = 1; r <= 50; r++) {
      h.publish(r, [put('k', 'v'.repeat(100), r)]);
      assert.equal((await fast.next()).value?.revision, r);
    }
    await assert.rejects(
      slow.next(),
      (e: unknown) => e instanceof WatcherTooSlowError && /fell more than 2000 bytes behind/.test(e.message),
    );
    assert.equal(h.watcherCount, 1);
  } finally {
    h.close();
  }
});

test('progress notifications for an idle watcher; a bound on watchers', async () => {
  const h = hub({ progressIntervalMs: 20, maxWatchers: 2 });
  const keepAlive = setInterval(() => undefined, 1000); // the hub's timer does not hold the process
  try {
    h.publish(1, [put('x', '1', 1)]);
    const w = h.watch({ key: 'k', prefix: false, startRevision: 0, prevKv: false })[Symbol.asyncIterator]();
    h.publish(2, [put('x', '2', 2)]);
    assert.deepEqual(
      (await w.next()).value,
      { revision: 2, events: [] },
      'caught up: nothing matching up to revision 2',
    );
    h.publish(3, [put('x', '3', 3)]);
    assert.deepEqual(
      (await w.next()).value,
      { revision: 3, events: [] },
      'idle: a progress notification at the current revision',
    );
    h.watch({ key: 'k', prefix: false, startRevision: 0, prevKv: false });
    assert.throws(() => h.watch({ key: 'k', prefix: false, startRevision: 0, prevKv: false }), TooManyWatchersError);
    await w.return?.();
    assert.equal(h.watcherCount, 1, 'a watcher whose reader stopped is gone');
  } finally {
    clearInterval(keepAlive);
    h.close();
  }
});
