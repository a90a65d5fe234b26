// Asynchronous storage writes (several Readies in flight, after etcd-io/raft): the leader sends its
// entries before its own disk has them and counts them toward commit only once advance() says they
// are durable; acknowledgements leave only after their Ready is durable; Readies are advanced in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry, NodeId } from './types.ts';
import { TestCluster, isolate } from './testkit.ts';

const text = (e: Entry): string => new TextDecoder().decode(e.data);

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

test('a pipelining leader counts its own entries toward commit only once they are durable', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  const a = c.electFirst();
  assert.equal(a, 'a');
  c.drop = isolate('c'); // a majority is now a and b: a's own copy must count
  c.asyncDisk.add('a');
  const i1 = c.propose('a', 'one');
  const i2 = c.propose('a', 'two');
  // Two Readies in flight on the leader at once, neither persisted.
  assert.ok(c.heldCount('a') >= 2, `pipelined: ${c.heldCount('a')} Readies held`);
  c.deliverAll();
  // b stored both and acknowledged; the leader's disk has neither: nothing new may commit.
  assert.ok(c.get('b').disk.entries.length >= i2);
  assert.ok(c.node('a').status(c.get('a').nowMs).commit < i1, 'committed before the leader made it durable');
  // The Ready holding `one` becomes durable (in order): `one` commits, `two` does not yet.
  const held = c.heldCount('a');
  let k = 0;
  while (c.get('a').disk.entries.length < i1 && k++ < held) c.flushSome('a', 1);
  c.deliverAll();
  const commit = c.node('a').status(c.get('a').nowMs).commit;
  assert.ok(commit >= i1 && commit < i2, `commit ${commit} after only ${i1} is durable`);
  c.flushDisk('a');
  c.deliverAll();
  assert.ok(c.node('a').status(c.get('a').nowMs).commit >= i2);
  c.run(300);
  assert.deepEqual(
    c
      .get('b')
      .applied.filter((e) => e.data.length > 0)
      .map(text),
    ['one', 'two'],
  );
});

test('Readies must be advanced in the order they were handed out', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  const t = c.get('a');
  t.node.propose(new TextEncoder().encode('x'), t.nowMs);
  const r1 = t.node.ready(t.nowMs);
  t.node.propose(new TextEncoder().encode('y'), t.nowMs);
  const r2 = t.node.ready(t.nowMs);
  assert.ok(r1 !== null && r2 !== null);
  assert.equal(t.node.readiesInFlight(), 2);
  // The second Ready carries only the entry the first did not.
  assert.deepEqual(r1.entries.map(text), ['x']);
  assert.deepEqual(r2.entries.map(text), ['y']);
  assert.throws(() => t.node.advance(r2, t.nowMs), /out of order/);
  t.node.advance(r1, t.nowMs);
  t.node.advance(r2, t.nowMs);
  assert.equal(t.node.readiesInFlight(), 0);
  assert.throws(() => t.node.advance(r2, t.nowMs), /without a ready/);
});

test('a follower acknowledges appended entries only once their Ready is durable', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.drop = isolate('c');
  c.asyncDisk.add('b');
  const i = c.propose('a', 'v');
  c.deliverAll();
  assert.ok(c.get('a').disk.entries.length >= i, 'the leader persisted its own copy');
  assert.ok(c.node('a').status(c.get('a').nowMs).commit < i, 'commit counted an ack b never made durable');
  // Heartbeats keep flowing meanwhile, and their acks claim only what b has persisted.
  c.advance(300);
  c.deliverAll();
  assert.ok(c.node('a').status(c.get('a').nowMs).commit < i);
  c.flushDisk('b');
  c.deliverAll();
  assert.ok(c.node('a').status(c.get('a').nowMs).commit >= i);
});

test('Log Matching and State Machine Safety with pipelined disks, partial flushes and crashes that lose unpersisted Readies', () => {
  for (let trial = 0; trial < 6; trial++) {
    const rnd = lcg(700 + trial);
    const c = new TestCluster(['a', 'b', 'c', 'd', 'e'], { maxEntriesPerAppend: 3 }, () => rnd());
    for (const id of c.ids) c.asyncDisk.add(id);
    let n = 0;
    for (let step = 0; step < 60; step++) {
      const cut = c.ids.filter(() => rnd() < 0.25);
      c.drop = (m) => cut.includes(m.from) !== cut.includes(m.to) || rnd() < 0.05;
      for (const id of c.leaders())
        if (rnd() < 0.8) {
          const t = c.get(id);
          t.node.propose(new TextEncoder().encode(`v${n++}`), t.nowMs);
          c.pump(id);
        }
      for (let k = 0; k < 10; k++) {
        c.advance(15);
        // Each disk finishes some of its oldest Readies, in order; the rest stay in flight.
        for (const id of c.ids) if (rnd() < 0.5) c.flushSome(id, Math.floor(rnd() * 3));
        c.deliverAll();
      }
      // A crash loses every Ready not yet persisted (and the acknowledgements waiting for it).
      if (rnd() < 0.15) c.restart(c.ids[Math.floor(rnd() * c.ids.length)] as NodeId);
    }
    c.drop = () => false;
    for (let k = 0; k < 200; k++) {
      c.advance(20);
      for (const id of c.ids) c.flushSome(id, 3);
      c.deliverAll();
    }
    for (const x of c.ids) {
      for (const y of c.ids) {
        const ex = c.get(x).disk.entries;
        const ey = c.get(y).disk.entries;
        for (let i = Math.min(ex.length, ey.length) - 1; i >= 0; i--) {
          if (ex[i]?.term === ey[i]?.term) {
            for (let j = 0; j <= i; j++)
              assert.equal(ex[j]?.term, ey[j]?.term, `${x},${y} differ at ${j + 1} below a match at ${i + 1}`);
            break;
          }
        }
      }
    }
    // Every node applied a prefix of one sequence (restarted nodes from their disk on).
    const longest = c.ids.map((id) => c.get(id).applied).reduce((p, q) => (p.length >= q.length ? p : q));
    for (const id of c.ids) {
      const ap = c.get(id).applied;
      const first = ap[0]?.index ?? 1;
      const off = longest.findIndex((e) => e.index === first);
      ap.forEach((e, i) => {
        const l = longest[off + i];
        assert.deepEqual([e.index, e.term, text(e)], [l?.index, l?.term, l && text(l)], `${id} applied differently`);
      });
    }
    assert.ok(longest.length > 10, 'the run made progress');
  }
});
