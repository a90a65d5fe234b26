import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogLimiter } from './log-limit.ts';

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
