// Leadership transfer (thesis §3.10) with the lease rule: give the lease up first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, isolate } from './testkit.ts';

function cluster(): TestCluster {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  return c;
}

test('transfer: the target campaigns at once with transfer = true and wins the next term', () => {
  const c = cluster();
  const term = c.node('a').status(0).term;
  assert.equal(c.node('a').transferLeadership('b', c.get('a').nowMs), true);
  c.pumpAll();
  const t = c.queue.find((m) => m.type === 'timeoutNow');
  assert.ok(t && t.to === 'b');
  c.deliverOne((m) => m.type === 'timeoutNow');
  const votes = c.queue.filter((m) => m.type === 'vote');
  assert.ok(
    votes.length === 2 && votes.every((m) => m.type === 'vote' && m.transfer && !m.preVote && m.term === term + 1),
  );
  c.deliverAll();
  assert.deepEqual(c.leaders(), ['b']);
  assert.equal(c.node('a').status(0).leader, 'b');
});

test('transfer to a lagging target: it is brought up to date before TimeoutNow', () => {
  const c = cluster();
  c.drop = isolate('c');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.run(100);
  c.drop = () => false;
  let lagAtTimeoutNow = -1;
  c.drop = (m) => {
    if (m.type === 'timeoutNow') lagAtTimeoutNow = c.node('a').status(0).lastIndex - c.node('c').status(0).lastIndex;
    return false;
  };
  c.node('a').transferLeadership('c', c.get('a').nowMs);
  c.pump('a');
  assert.equal(
    c.queue.some((m) => m.type === 'timeoutNow'),
    false,
    'not yet: c lags',
  );
  c.deliverAll();
  const sawTimeoutNow = lagAtTimeoutNow === 0;
  assert.ok(sawTimeoutNow);
  assert.deepEqual(c.leaders(), ['c']);
});

test('transfer is refused by followers, for unknown targets and for oneself; proposals wait during it', () => {
  const c = cluster();
  const now = c.get('a').nowMs;
  assert.equal(c.node('b').transferLeadership('c', c.get('b').nowMs), false);
  assert.equal(c.node('a').transferLeadership('z', now), false);
  assert.equal(c.node('a').transferLeadership('a', now), false);
  c.drop = (m) => m.type === 'timeoutNow';
  assert.equal(c.node('a').transferLeadership('b', now), true);
  const r = c.node('a').propose(new Uint8Array([1]), now);
  assert.deepEqual(r, { ok: false, leaderHint: 'b' });
});
