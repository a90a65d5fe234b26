import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LimitedLog, LogLimiter } from './log-limit.ts';

test('one line per key and interval; the held-back lines are counted in the next one', () => {
  let now = 0;
  const l = new LogLimiter(1000, () => now);
  assert.equal(l.take('a'), 0);
  assert.equal(l.take('a'), null);
  assert.equal(l.take('b'), 0, 'another key is not held back');
  now = 500;
  assert.equal(l.take('a'), null);
  now = 1000;
  assert.equal(l.take('a'), 2);
  assert.equal(l.take('a'), null);
  l.reset('a');
  assert.equal(l.take('a'), 0, 'after reset the next one is logged at once');
});

test('the keys remembered are bounded', () => {
  const l = new LogLimiter(1_000_000, () => 0);
  for (let i = 0; i < 5000; i++) l.take(`k${i}`);
  // The first keys were forgotten: logged again at once.
  assert.equal(l.take('k0'), 0);
  assert.equal(l.take('k4999'), null);
});

test('LimitedLog writes one line per key and interval, and the next says how many were held back', () => {
  let now = 0;
  const out: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = new LimitedLog(
    { warn: (obj, msg = '') => out.push({ obj: obj as Record<string, unknown>, msg }) },
    10_000,
    () => now,
  );
  assert.equal(log.warn('10.0.0.1 bad', { remote: '10.0.0.1' }, 'refused'), true);
  for (let i = 0; i < 37; i++) {
    now += 100;
    assert.equal(log.warn('10.0.0.1 bad', { remote: '10.0.0.1' }, 'refused'), false);
  }
  assert.equal(log.warn('10.0.0.2 bad', { remote: '10.0.0.2' }, 'refused'), true, 'another source has its own line');
  now = 12_000;
  log.warn('10.0.0.1 bad', { remote: '10.0.0.1' }, 'refused');
  assert.deepEqual(
    out.map((l) => l.msg),
    ['refused', 'refused', 'refused (37 more in the last 12 s)'],
  );
  assert.equal(out[2]?.obj['heldBack'], 37);
  assert.equal(out[0]?.obj['heldBack'], undefined);
});
