// The idle collection (issue 16): collects once a thread goes idle after heavy work, never while it
// works, not after light work, at most once per gap; and on a real event loop, after real work.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  IdleCollectPolicy,
  LOOP_BUSY_MS,
  startIdleCollect,
  type IdleCollectOptions,
  type WorkMeter,
} from './idle-collect.ts';

const OPTS: IdleCollectOptions = { checkIntervalMs: 1000, minWork: 2000, quietWork: 10, minGapMs: 30_000 };

/** A meter the test advances: each step is an interval with some work done in it. */
function fakeMeter(): WorkMeter & { step(ms: number, work: number): void } {
  let work = 0;
  let now = 0;
  return {
    work: () => work,
    nowMs: () => now,
    step(ms, w) {
      now += ms;
      work += w;
    },
  };
}

/** Steps `n` intervals of `work` each, looking after each; how many looks said collect. */
function run(p: IdleCollectPolicy, meter: ReturnType<typeof fakeMeter>, n: number, work: number): number {
  let collects = 0;
  for (let i = 0; i < n; i++) {
    meter.step(OPTS.checkIntervalMs, work);
    if (p.look()) collects++;
  }
  return collects;
}

describe('IdleCollectPolicy', () => {
  test('heavy work, then idle: one collection, then none while the thread stays quiet', () => {
    const meter = fakeMeter();
    const p = new IdleCollectPolicy(OPTS, meter);
    assert.equal(run(p, meter, 10, 900), 0, 'never while working');
    assert.equal(run(p, meter, 1, 2), 1, 'the first quiet look after 9,000 of work');
    assert.equal(run(p, meter, 600, 2), 0, 'ten quiet minutes: nothing more to free');
  });

  test('light work never adds up; working is never idle', () => {
    const meter = fakeMeter();
    const p = new IdleCollectPolicy(OPTS, meter);
    assert.equal(run(p, meter, 3600, 10), 0, 'an hour of chatter at the quiet limit is not work');
    assert.equal(run(p, meter, 3, 500), 0, 'working is not idle');
    assert.equal(run(p, meter, 1, 0), 0, '1,500 of work: under the threshold');
    assert.equal(run(p, meter, 2, 500), 0);
    assert.equal(run(p, meter, 1, 0), 1);
  });

  test('at most one collection per gap, however bursty the work', () => {
    const meter = fakeMeter();
    const p = new IdleCollectPolicy(OPTS, meter);
    let collects = 0;
    for (let i = 0; i < 12; i++) collects += run(p, meter, 3, 1000) + run(p, meter, 2, 0); // 5 s per burst
    assert.equal(collects, 2, '60 s of bursts, a 30 s gap');
  });
});

describe('startIdleCollect', () => {
  test('on this thread: collects after real busy time once the loop idles, and stops', async () => {
    let collects = 0;
    const stop = startIdleCollect(
      { checkIntervalMs: 20, minWork: 100, quietWork: 10, minGapMs: 0 },
      LOOP_BUSY_MS,
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
