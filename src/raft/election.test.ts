// Raft §5.2, §5.4.1, thesis §9.6 (PreVote) and §6.2 (CheckQuorum), one rule per test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from './types.ts';
import type { Message, VoteResponse } from './types.ts';
import { Solo, TestCluster, heartbeat, isolate, voteReq } from './testkit.ts';

const HOLD_MS = 900 * 1.01 + 1; // the restart hold of a node constructed with `restored`

function voteResp(out: Message[]): VoteResponse {
  const r = out.find((m): m is VoteResponse => m.type === 'voteResp');
  assert.ok(r, 'expected a vote response');
  return r;
}

test('Election Safety (§5.2): at most one leader per term, across random partitions', () => {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let trial = 0; trial < 8; trial++) {
    const c = new TestCluster(['a', 'b', 'c', 'd', 'e'], {}, () => rnd());
    const leaderOfTerm = new Map<number, string>();
    for (let step = 0; step < 40; step++) {
      const cut = c.ids.filter(() => rnd() < 0.3);
      c.drop = (m) => cut.includes(m.from) !== cut.includes(m.to);
      c.run(200, 20);
      for (const id of c.ids) {
        for (const e of c.get(id).events) {
          if (e.kind !== 'role' || e.role !== 'leader') continue;
          const prev = leaderOfTerm.get(e.term);
          assert.ok(prev === undefined || prev === id, `two leaders in term ${e.term}: ${prev} and ${id}`);
          leaderOfTerm.set(e.term, id);
        }
      }
    }
    assert.ok(leaderOfTerm.size > 0, 'some leader was elected');
  }
});

test('vote rule (§5.4.1): a candidate whose log is less up to date is refused', () => {
  const b = new Solo('b', ['a', 'b', 'c'], { term: 2, logTerms: [1, 2] });
  b.tick(HOLD_MS);
  // Shorter log with the same last term: refused.
  assert.equal(voteResp(b.step(voteReq('c', 'b', 3, 1, 2))).granted, false);
  // Longer log but an older last term: refused.
  assert.equal(voteResp(b.step(voteReq('c', 'b', 4, 9, 1))).granted, false);
  // A later last term wins even with a shorter log.
  assert.equal(voteResp(b.step(voteReq('c', 'b', 5, 1, 3))).granted, true);
});

test('vote rule (§5.2): one vote per term, and a repeated request from the same candidate is granted again', () => {
  const b = new Solo('b', ['a', 'b', 'c'], { term: 1, logTerms: [1] });
  b.tick(HOLD_MS);
  assert.equal(voteResp(b.step(voteReq('c', 'b', 2, 1, 1))).granted, true);
  assert.equal(voteResp(b.step(voteReq('a', 'b', 2, 1, 1))).granted, false);
  assert.equal(voteResp(b.step(voteReq('c', 'b', 2, 1, 1))).granted, true);
  assert.equal(b.node.status(b.nowMs).votedFor, 'c');
});

test('a granted vote is persisted before it is sent (afterPersist)', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.node.step(voteReq('c', 'b', 1, 0, 0), b.nowMs);
  const rd = b.node.ready(b.nowMs);
  assert.ok(rd !== null && rd.hardState !== null && rd.mustSync);
  assert.equal(rd.hardState.votedFor, 'c');
  assert.ok(rd.messages.every((o) => o.msg.type !== 'voteResp' || o.afterPersist));
});

test('NO-OP (§8): a new leader appends an entry of its term first, and every node applies it', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(100);
  for (const id of c.ids) {
    const first = c.get(id).applied[0];
    assert.ok(first !== undefined);
    assert.equal(first.type, EntryType.Noop);
    assert.equal(first.term, c.node('a').status(0).term);
  }
});

test('PreVote: a partitioned node does not inflate its term, and rejoining does not disrupt the leader', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  const term = c.node('a').status(0).term;
  c.drop = isolate('c');
  c.run(6000, 50);
  assert.equal(c.node('c').status(c.get('c').nowMs).term, term, 'pre-votes failed, so no real campaign');
  assert.ok(c.eventsOf('c', 'election-timeout').length >= 2, 'c did keep trying');
  c.drop = () => false;
  c.run(3000, 50);
  assert.deepEqual(c.leaders(), ['a']);
  assert.equal(c.node('a').status(0).term, term);
  assert.equal(c.eventsOf('a', 'step-down').length, 0);
});

test('CheckQuorum: a leader that hears from no majority within an election timeout steps down', () => {
  // A leader that never got a lease (it is still waiting for the old one) has no lease to lose:
  // CheckQuorum is what removes it. Make b leader by transfer (so it waits), then cut it off.
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  assert.ok(c.node('a').transferLeadership('b', c.get('a').nowMs));
  c.deliverAll();
  assert.deepEqual(c.leaders(), ['b']);
  assert.ok(c.node('b').status(c.get('b').nowMs).waitingForOldLease);
  c.drop = isolate('b');
  // The first check may still count what b heard just before the cut; the next one cannot.
  c.run(999, 1);
  assert.equal(c.node('b').status(0).role, 'leader', 'not before an election timeout');
  c.run(1020, 1);
  assert.equal(c.node('b').status(0).role, 'follower');
  const sd = c.eventsOf('b', 'step-down');
  assert.equal(sd.length, 1);
  assert.match((sd[0] as { reason: string }).reason, /check quorum failed/);
});

test('a node that hears a newer term from a leader becomes its follower', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.step(heartbeat('a', 'b', 5));
  const st = b.node.status(b.nowMs);
  assert.equal(st.term, 5);
  assert.equal(st.leader, 'a');
  assert.equal(st.role, 'follower');
});

test('a stale leader is told the newer term and steps down', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.drop = isolate('a');
  c.run(3000, 50);
  const [newLeader] = c.leaders().filter((id) => id !== 'a');
  assert.ok(newLeader !== undefined);
  c.drop = () => false;
  c.run(500, 10);
  assert.deepEqual(c.leaders(), [newLeader]);
  assert.equal(c.node('a').status(0).leader, newLeader);
});

test('election timeouts are randomized from the injected source within [min, max)', () => {
  const lo = new Solo('x', ['x', 'y', 'z'], { random: 0 });
  const hi = new Solo('x', ['x', 'y', 'z'], { random: 0.999 });
  assert.equal(lo.node.nextTickAtMs() - lo.nowMs, 1000);
  assert.equal(hi.node.nextTickAtMs() - hi.nowMs, 1999);
});
