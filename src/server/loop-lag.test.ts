// The loop lag (session 9): a stall shows whether the thread works or idles, the sampling slows down
// once the thread has no work, and work brings the fine period back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoopLag, workMoved } from './loop-lag.ts';

function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('a stall of a working thread is reported as its length, within the fine period', async () => {
  const lag = new LoopLag({ busy: () => true, resolutionMs: 10, idleProbeMs: 200 });
  try {
    await sleep(50);
    assert.equal(lag.periodMs, 10);
    stall(200);
    await sleep(50);
    const s = lag.stats();
    // Lateness only grows on a loaded machine: the lower bound is exact, the upper one generous.
    assert.ok(s.maxMs >= 190 && s.maxMs < 2000, `max ${s.maxMs} ms for a 200 ms stall`);
    assert.ok(s.p99Ms <= s.maxMs);
  } finally {
    lag.close();
  }
});

test('idle, the sampling slows down; a stall still shows, and work brings the fine period back', async () => {
  let work = 0;
  const lag = new LoopLag({ busy: workMoved(() => work), resolutionMs: 10, idleProbeMs: 100, idleAfterMs: 300 });
  try {
    for (let i = 0; i < 200 && lag.periodMs !== 100; i++) await sleep(10);
    assert.equal(lag.periodMs, 100, 'idle: the coarse period');
    // Longer than the idle period, so that it covers a probe's due time wherever it falls.
    stall(300);
    for (let i = 0; i < 50 && lag.stats().maxMs < 200; i++) await sleep(5);
    assert.ok(lag.stats().maxMs >= 200, `a 300 ms stall seen idle as ${lag.stats().maxMs} ms`);
    work += 5;
    const period = (): number => lag.periodMs;
    for (let i = 0; i < 50 && period() !== 10; i++) await sleep(10);
    assert.equal(period(), 10, 'work: the fine period');
  } finally {
    lag.close();
  }
});

test('probes call onProbe, and close stops them', async () => {
  let probes = 0;
  const lag = new LoopLag({
    busy: () => false,
    resolutionMs: 10,
    idleAfterMs: 0,
    idleProbeMs: 20,
    onProbe: () => probes++,
  });
  await sleep(150);
  lag.close();
  const seen = probes;
  assert.ok(seen >= 2, `${seen} probes`);
  await sleep(60);
  assert.equal(probes, seen);
});
