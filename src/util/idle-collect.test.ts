// The idle collection policy (issue 16): collects once a thread goes idle holding more than after
// its last collection, never while it works, not again while it stays quiet, at most once per gap;
// and on a real event loop, after real garbage.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  IdleCollectPolicy,
  LOOP_BUSY_MS,
  startIdleCollect,
  type IdleCollectOptions,
  type WorkMeter,
} from './idle-collect.ts';

const MiB = 2 ** 20;
const OPTS: IdleCollectOptions = { checkIntervalMs: 1000, quietWork: 10, minGrowthBytes: 8 * MiB, minGapMs: 10_000 };

/** A meter the test advances: each step is an interval with some work done and bytes held at its end. */
function fakeMeter(heldBytes: number): WorkMeter & { step(work: number, held: number): void } {
  let work = 0;
  let now = 0;
  let held = heldBytes;
  return {
    work: () => work,
    heldBytes: () => held,
    nowMs: () => now,
    step(w, h) {
      now += OPTS.checkIntervalMs;
      work += w;
      held = h;
    },
  };
}

/** A policy over a fake meter, and a step that looks (collecting if told to: then `afterBytes` are held). */
function harness(startBytes: number, afterBytes: number) {
  const meter = fakeMeter(startBytes);
  const policy = new IdleCollectPolicy(OPTS, meter);
  let held = startBytes;
  /** `n` intervals of `work` each, growing by `grow` bytes each; how many looks collected. */
  const run = (n: number, work: number, grow = 0): number => {
    let collects = 0;
    for (let i = 0; i < n; i++) {
      held += grow;
      meter.step(work, held);
      if (policy.look()) {
        collects++;
        held = afterBytes;
        meter.step(0, held);
        policy.collected();
      }
    }
    return collects;
  };
  return { run, setHeld: (b: number) => (held = b) };
}

describe('IdleCollectPolicy', () => {
  test('heavy work, then idle: one collection, then none while the thread stays quiet', () => {
    const h = harness(40 * MiB, 180 * MiB);
    assert.equal(h.run(60, 900, 4 * MiB), 0, 'never while working, however much it grew');
    assert.equal(h.run(1, 2), 1, 'the first quiet look after growing by 240 MiB');
    assert.equal(h.run(3600, 10), 0, 'an hour of chatter at the quiet limit: nothing more to free');
  });

  test('a load whose last part is small still ends in a collection (session 7: ~27 MiB kept)', () => {
    // The policy until session 7 counted work since the last collection: a node that collected in
    // a quiet second during the load (an election, a stall), then applied its last 1,400 entries of
    // 100 puts each, never collected again. What it holds decides now.
    const h = harness(40 * MiB, 180 * MiB);
    assert.equal(h.run(60, 70, 3 * MiB), 0);
    assert.equal(h.run(1, 0), 1, 'a stall during the load');
    assert.equal(h.run(20, 70, 3 * MiB), 0, '1,400 entries: 60 MiB of heap and dead entry bytes');
    assert.equal(h.run(1, 0), 1, 'collected once idle after the load');
  });

  test('growth under the threshold, or a thread that shrank by itself, does not collect', () => {
    const h = harness(40 * MiB, 40 * MiB);
    assert.equal(h.run(10, 500, MiB / 2), 0);
    assert.equal(h.run(5, 0), 0, 'grew by 5 MiB: not worth a pause');
    h.setHeld(30 * MiB); // V8 gave memory back by itself
    assert.equal(h.run(1, 0), 0);
    assert.equal(h.run(7, 0, MiB), 0, 'back at 37 MiB: 7 MiB over the lowest point');
    assert.equal(h.run(1, 0, MiB), 1, '8 MiB over it');
  });

  test('at most one collection per gap, however bursty the work', () => {
    const h = harness(40 * MiB, 40 * MiB);
    let collects = 0;
    for (let i = 0; i < 12; i++) collects += h.run(3, 1000, 8 * MiB) + h.run(2, 0); // 5 s per burst
    assert.equal(collects, 6, '60 s of bursts, a 10 s gap');
  });
});

describe('startIdleCollect', () => {
  test('on this thread: collects once garbage is held and the loop idles, and stops', async () => {
    let collects = 0;
    let garbage: Buffer[] | null = null;
    const stop = startIdleCollect(
      { checkIntervalMs: 20, quietWork: 10, minGrowthBytes: 16 * MiB, minGapMs: 0 },
      LOOP_BUSY_MS,
      () => {
        collects++;
        garbage = null;
      },
    );
    try {
      garbage = Array.from({ length: 32 }, () => Buffer.alloc(MiB)); // 32 MiB off the heap
      for (let i = 0; i < 500 && collects === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(collects, 1);
      assert.equal(garbage, null);
    } finally {
      stop();
    }
  });
});
