// Scans on the node's thread run in turns (scan-turns.ts): a timer set when many scans arrive at
// once fires after about one budget of them, not after all (before session 12, 64 count_only
// Ranges over 200,000 keys held the node's thread for 9.9 s).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScanTurns } from './scan-turns.ts';

function busyMs(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('scans past the budget of a turn wait for a later one; timers run between; all are answered in order', async () => {
  const turns = new ScanTurns(10);
  const order: number[] = [];
  let ranBeforeTimer = -1;
  setTimeout(() => (ranBeforeTimer = order.length), 0);
  const all = Array.from({ length: 12 }, (_, i) =>
    turns.run(() => {
      busyMs(4);
      order.push(i);
      return i;
    }),
  );
  assert.deepEqual(await Promise.all(all), [...order.keys()]);
  assert.deepEqual(order, [...order.keys()]);
  // Without turns all 12 (48 ms) ran before the timer; with them about one or two budgets' worth.
  assert.ok(ranBeforeTimer >= 1 && ranBeforeTimer <= 8, `${ranBeforeTimer} scans before the timer`);
  assert.equal(turns.waiting, 0);
});

test('a scan that throws frees its turn; cheap scans all run in one turn', async () => {
  const turns = new ScanTurns(10);
  await assert.rejects(
    turns.run(() => {
      throw new Error('aborted');
    }),
    /aborted/,
  );
  let timerFired = false;
  setTimeout(() => (timerFired = true), 0);
  const got = await Promise.all(Array.from({ length: 100 }, (_, i) => turns.run(() => i)));
  assert.equal(got.length, 100);
  assert.equal(timerFired, false);
});
