// The coalescing rule (cfg.appendHoldMs, replication.ts holdAppends): entries proposed while an
// AppendRequest to a follower is in flight wait — up to the hold, or until appendHoldEntries wait,
// or until the follower's answer leaves nothing in flight — and then go in one AppendRequest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendRequest, Message } from './types.ts';
import { TestCluster } from './testkit.ts';

const appendsTo = (c: TestCluster, to: string): AppendRequest[] =>
  c.queue.filter((m: Message): m is AppendRequest => m.type === 'app' && m.to === to && m.entries.length > 0);

/** A 3-node cluster led by a, with one append to b in flight (undelivered) and c cut off. */
function withOneInFlight(hold: { appendHoldMs: number; appendHoldEntries: number }): TestCluster {
  const c = new TestCluster(['a', 'b', 'c'], hold);
  c.electFirst();
  c.deliverAll();
  c.drop = (m) => m.to === 'c' || m.from === 'c';
  c.propose('a', 'first');
  c.pump('a');
  assert.equal(appendsTo(c, 'b').length, 1, 'nothing was in flight: the first append leaves at once');
  return c;
}

test('entries proposed while an append is in flight wait for the hold, then leave together', () => {
  const c = withOneInFlight({ appendHoldMs: 5, appendHoldEntries: 64 });
  const a = c.get('a');
  for (const v of ['x', 'y', 'z']) {
    c.propose('a', v);
    c.pump('a');
  }
  assert.equal(appendsTo(c, 'b').length, 1, 'held while the first is in flight');
  // The core asks to be woken when the hold ends.
  assert.ok(a.node.nextTickAtMs() <= a.nowMs + 5, `next tick ${a.node.nextTickAtMs() - a.nowMs} ms away`);
  c.advanceNode('a', 5);
  const sent = appendsTo(c, 'b');
  assert.equal(sent.length, 2);
  assert.equal(sent[1]?.entries.length, 3, 'one AppendRequest carries the three held entries');
});

test('a held append goes when the answer leaves nothing in flight, or when enough entries wait', () => {
  const c = withOneInFlight({ appendHoldMs: 50, appendHoldEntries: 3 });
  c.propose('a', 'x');
  c.pump('a');
  assert.equal(appendsTo(c, 'b').length, 1);
  // b answers the first append: nothing is in flight any more, so x leaves at once.
  c.deliverOne((m) => m.type === 'app' && m.to === 'b' && m.entries.length > 0);
  c.deliverOne((m) => m.type === 'appResp' && m.from === 'b');
  const afterAck = appendsTo(c, 'b');
  assert.equal(afterAck.length, 1, 'the answer released the held entry');
  assert.equal(afterAck[0]?.entries.length, 1);
  // Now x is in flight; three more entries reach appendHoldEntries and go without waiting 50 ms.
  c.propose('a', 'p');
  c.pump('a');
  c.propose('a', 'q');
  c.pump('a');
  assert.equal(appendsTo(c, 'b').length, 1, 'two entries wait');
  c.propose('a', 'r');
  c.pump('a');
  assert.equal(appendsTo(c, 'b').length, 2, 'the third ends the hold');
});

test('without a hold (the default) every turn sends its own append', () => {
  const c = withOneInFlight({ appendHoldMs: 0, appendHoldEntries: 64 });
  c.propose('a', 'x');
  c.pump('a');
  c.propose('a', 'y');
  c.pump('a');
  assert.equal(appendsTo(c, 'b').length, 3);
});

test('held entries commit: nothing is lost behind a hold', () => {
  const c = new TestCluster(['a', 'b', 'c'], { appendHoldMs: 20, appendHoldEntries: 64 });
  c.electFirst();
  const last = ['1', '2', '3', '4', '5', '6'].map((v) => {
    const i = c.propose('a', v);
    c.pump('a');
    return i;
  });
  c.run(200);
  for (const id of ['a', 'b', 'c'])
    assert.ok(c.get(id).applied.length >= (last.at(-1) ?? 0), `${id} applied every held entry`);
});
