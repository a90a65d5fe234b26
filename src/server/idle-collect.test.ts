// The idle collection (issue 16): collects once a thread goes idle after heavy work, never while it
// is busy, not after light work, at most once per gap; and on a real event loop, after real work.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdleCollectPolicy, startIdleCollect, type IdleCollectOptions, type LoopClock } from './idle-collect.ts';

const OPTS: IdleCollectOptions = { checkIntervalMs: 1000, minBusyMs: 2000, idleUtilization: 0.05, minGapMs: 30_000 };

/** A loop clock the test advances: each step is an interval with a share of it busy. */
function fakeLoop(): LoopClock & { step(ms: number, utilization: number): void } {
  let busy = 0;
  let now = 0;
  return {
    busyMs: () => busy,
    nowMs: () => now,
    step(ms, utilization) {
      now += ms;
      busy += ms * utilization;
    },
  };
}

/** Steps the clock `n` intervals at `utilization`, looking after each; how many looks said collect. */
function run(p: IdleCollectPolicy, clock: ReturnType<typeof fakeLoop>, n: number, utilization: number): number {
  let collects = 0;
  for (let i = 0; i < n; i++) {
    clock.step(OPTS.checkIntervalMs, utilization);
    if (p.look()) collects++;
  }
  return collects;
}

describe('IdleCollectPolicy', () => {
  test('heavy work, then idle: one collection, then none while the thread stays quiet', () => {
    const clock = fakeLoop();
    const p = new IdleCollectPolicy(OPTS, clock);
    assert.equal(run(p, clock, 10, 0.9), 0, 'never while busy');
    assert.equal(run(p, clock, 1, 0.01), 1, 'the first idle look after 9 s of busy time');
    assert.equal(run(p, clock, 600, 0.01), 0, 'ten quiet minutes: nothing more to free');
  });

  test('light work never reaches the busy threshold soon; a busy loop never counts as idle', () => {
    const clock = fakeLoop();
    const p = new IdleCollectPolicy(OPTS, clock);
    assert.equal(run(p, clock, 3600, 0.04), 0, 'an hour at 4 %: idle chatter is not work');
    assert.equal(run(p, clock, 3, 0.5), 0, 'half busy is not idle');
    assert.equal(run(p, clock, 1, 0.0), 0, '1.5 s of work: under the 2 s threshold');
    assert.equal(run(p, clock, 2, 0.5), 0);
    assert.equal(run(p, clock, 1, 0.0), 1);
  });

  test('at most one collection per gap, however bursty the work', () => {
    const clock = fakeLoop();
    const p = new IdleCollectPolicy(OPTS, clock);
    let collects = 0;
    for (let i = 0; i < 12; i++) collects += run(p, clock, 3, 1) + run(p, clock, 2, 0); // 5 s per burst
    assert.equal(collects, 2, '60 s of bursts, a 30 s gap');
  });
});

describe('startIdleCollect', () => {
  test('on this thread: collects after real busy time once the loop idles, and stops', async () => {
    let collects = 0;
    const stop = startIdleCollect(
      { checkIntervalMs: 20, minBusyMs: 100, idleUtilization: 0.5, minGapMs: 0 },
      () => collects++,
    );
    try {
      const until = Date.now() + 150;
      while (Date.now() < until); // busy: the loop is blocked for 150 ms
      for (let i = 0; i < 500 && collects === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(collects, 1);
    } finally {
      stop();
    }
  });
});
