import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LimitedLog, LogLimiter, unrefTimer } from './log-limit.ts';

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

test('lines held back are reported by a timer when the interval ends, though no line of the key follows', () => {
  let now = 0;
  const out: { obj: Record<string, unknown>; msg: string }[] = [];
  const timers: { fn: () => void; atMs: number }[] = [];
  const log = new LimitedLog(
    { warn: (obj, msg = '') => out.push({ obj: obj as Record<string, unknown>, msg }) },
    60_000,
    () => now,
    (fn, ms) => timers.push({ fn, atMs: now + ms }),
  );
  /** Advances the clock to each timer in turn, up to `toMs`, running them. */
  const runUntil = (toMs: number): void => {
    for (;;) {
      timers.sort((a, b) => a.atMs - b.atMs);
      const t = timers[0];
      if (t === undefined || t.atMs > toMs) break;
      timers.shift();
      now = t.atMs;
      t.fn();
    }
    now = toMs;
  };
  log.warn('10.0.0.1 bad', { remote: '10.0.0.1' }, 'refused');
  assert.equal(timers.length, 0, 'nothing held back: no timer');
  for (let i = 0; i < 5; i++) {
    now += 1000;
    log.warn('10.0.0.1 bad', { remote: '10.0.0.1', attempt: i }, 'refused');
  }
  assert.equal(timers.length, 1, 'one timer for any number of held-back lines');
  runUntil(59_999);
  assert.equal(out.length, 1, 'not before the interval ends');
  runUntil(60_000);
  assert.deepEqual(
    out.map((l) => l.msg),
    ['refused', 'refused (5 more in the last 60 s)'],
  );
  assert.deepEqual(out[1]?.obj, { remote: '10.0.0.1', attempt: 4, heldBack: 5 });
  // The report starts a new interval: a line within it is held back and reported at its end, once.
  now = 70_000;
  log.warn('10.0.0.1 bad', { remote: '10.0.0.1' }, 'refused');
  runUntil(200_000);
  assert.deepEqual(
    out.map((l) => l.msg),
    ['refused', 'refused (5 more in the last 60 s)', 'refused (1 more in the last 60 s)'],
  );
  assert.equal(timers.length, 0, 'nothing held back: no timer left');
});

test('a line of the key at the end of the interval reports the count itself; the timer then writes nothing more', () => {
  let now = 0;
  const out: string[] = [];
  const timers: (() => void)[] = [];
  const log = new LimitedLog(
    { warn: (_obj, msg = '') => out.push(msg) },
    1000,
    () => now,
    (fn) => timers.push(fn),
  );
  log.warn('k', {}, 'refused');
  now = 500;
  log.warn('k', {}, 'refused');
  now = 1000;
  log.warn('k', {}, 'refused');
  for (const fn of timers.splice(0)) fn();
  assert.deepEqual(out, ['refused', 'refused (1 more in the last 1 s)']);
  assert.equal(timers.length, 0);
});

test('the default timer does not keep the process alive', () => {
  const t = unrefTimer(() => undefined, 60_000);
  assert.equal(t.hasRef(), false);
  clearTimeout(t);
});
