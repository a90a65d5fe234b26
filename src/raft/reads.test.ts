// Reads (thesis §6.4): the lease fast path, ReadIndex, and their failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './testkit.ts';

function cluster(over: Record<string, number> = {}): TestCluster {
  const c = new TestCluster(['a', 'b', 'c'], over);
  c.electFirst();
  c.run(300);
  return c;
}

test('ReadIndex with a valid lease is answered at once, with the commit index', () => {
  const c = cluster();
  const a = c.get('a');
  a.node.readIndex(1, a.nowMs);
  c.pump('a');
  assert.deepEqual(a.readStates, [{ requestId: 1, index: a.node.status(0).commit }]);
  assert.equal(c.queue.length, 0, 'no round trip needed');
});

test('ReadIndex without a lease waits for a heartbeat round sent after the read to reach a majority', () => {
  const c = cluster();
  const a = c.get('a');
  a.node.transferLeadership('b', a.nowMs); // a gives its lease up but is still leader
  c.drop = (m) => m.type === 'timeoutNow';
  c.pump('a');
  c.queue = c.queue.filter((m) => m.type !== 'timeoutNow');
  a.node.readIndex(2, a.nowMs);
  c.pump('a');
  assert.equal(a.readStates.length, 0, 'not before the round is acknowledged');
  const round = c.queue.find((m) => m.from === 'a' && m.type === 'app');
  assert.ok(round, 'the read started a round');
  c.deliverOne((m) => m.to === 'b'); // b receives, acknowledges
  c.deliverOne((m) => m.to === 'a'); // a has a majority (itself and b)
  assert.deepEqual(
    a.readStates.map((r) => r.requestId),
    [2],
  );
});

test('ReadIndex with useLease = false confirms leadership with a round even while the lease is valid', () => {
  const c = cluster();
  const a = c.get('a');
  assert.ok(a.node.leaseRead(a.nowMs) !== null, 'the lease is valid');
  a.node.readIndex(5, a.nowMs, false);
  c.pump('a');
  assert.equal(a.readStates.length, 0, 'not answered from the lease');
  assert.ok(
    c.queue.some((m) => m.from === 'a' && m.type === 'app'),
    'the read started a round',
  );
  c.deliverOne((m) => m.to === 'b');
  c.deliverOne((m) => m.to === 'a');
  assert.deepEqual(
    a.readStates.map((r) => r.requestId),
    [5],
  );
});

test('ReadIndex on a follower fails with not-leader and the leader hint', () => {
  const c = cluster();
  const b = c.get('b');
  b.node.readIndex(3, b.nowMs);
  c.pump('b');
  assert.deepEqual(b.readFailures, [{ requestId: 3, reason: 'not-leader', leaderHint: 'a' }]);
});

test('pending ReadIndex requests fail with stepped-down when the leader steps down', () => {
  const c2 = cluster();
  const a2 = c2.get('a');
  a2.node.transferLeadership('b', a2.nowMs);
  c2.drop = (m) => m.type === 'timeoutNow' || m.to === 'a';
  a2.node.readIndex(4, a2.nowMs);
  c2.run(1100, 10); // transfer times out → step down
  assert.deepEqual(
    a2.readFailures.map((f) => [f.requestId, f.reason]),
    [[4, 'stepped-down']],
  );
});

test('ReadIndex is bounded by maxPendingReads', () => {
  const c = cluster({ maxPendingReads: 2 });
  const a = c.get('a');
  a.node.transferLeadership('b', a.nowMs);
  c.drop = (m) => m.type === 'timeoutNow';
  for (let i = 1; i <= 3; i++) a.node.readIndex(i, a.nowMs);
  c.pump('a');
  assert.deepEqual(
    a.readFailures.map((f) => [f.requestId, f.reason]),
    [[3, 'overloaded']],
  );
  c.deliverAll();
  assert.deepEqual(a.readStates.map((r) => r.requestId).sort(), [1, 2]);
});

test('leaseRead is null on followers and candidates', () => {
  const c = cluster();
  for (const id of ['b', 'c']) assert.equal(c.leaseRead(id), null);
  assert.notEqual(c.leaseRead('a'), null);
});
