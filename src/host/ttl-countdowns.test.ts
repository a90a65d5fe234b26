// The leader's TTL countdowns (docs/lease-safety.md, "TTL grants").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TtlCountdowns } from './ttl-countdowns.ts';

test('countdowns start in full, with the drift margin, and a keep-alive restarts them', () => {
  const c = new TtlCountdowns(0.1);
  c.start(1000, [{ id: 7, ttlMs: 100 }]);
  assert.deepEqual(c.due(1109), []);
  assert.equal(c.keepAlive(7, 100, 1050), true);
  assert.deepEqual(c.due(1150), []);
  assert.deepEqual(c.due(1160), [7]);
});

test('a keep-alive is refused once the expire is proposed (it may still commit after the answer)', () => {
  const c = new TtlCountdowns(0.1);
  c.start(0, [{ id: 7, ttlMs: 100 }]);
  assert.deepEqual(c.due(200), [7]);
  assert.equal(c.keepAlive(7, 100, 201), false);
  // The proposal failed (no commit): keep-alives are answered again.
  c.retry(7);
  assert.equal(c.keepAlive(7, 100, 202), true);
  assert.deepEqual(c.due(300), []);
});

test('not counting (not leader, or not started yet): nothing is due and keep-alives are refused', () => {
  const c = new TtlCountdowns(0.1);
  assert.equal(c.keepAlive(7, 100, 0), false);
  c.start(0, [{ id: 7, ttlMs: 100 }]);
  c.stop();
  assert.deepEqual(c.due(1e9), []);
});
