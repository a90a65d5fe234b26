// Membership changes in the core: one test per rule of membership.ts and docs/lease-safety.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfDecodeError, decodeConfChange, decodeConfEntry, encodeConfChange } from './confchange.ts';
import type { ConfChangeResult } from './membership.ts';
import { TestCluster, isolate, partition } from './testkit.ts';
import type { ConfChange, Mutant, NodeId } from './types.ts';

const cc = (kind: ConfChange['kind'], id: NodeId): ConfChange => ({
  kind,
  id,
  context: new TextEncoder().encode(`ctx-${id}`),
});

function propose(c: TestCluster, leader: NodeId, change: ConfChange, force = false): ConfChangeResult {
  const t = c.get(leader);
  const r = t.node.proposeConfChange(change, t.nowMs, { force });
  c.pump(leader);
  return r;
}

function ok(r: ConfChangeResult): number {
  assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.message}`);
  return r.index;
}

function refused(r: ConfChangeResult, reason: string): void {
  assert.equal(r.ok, false, 'expected a refusal');
  if (!r.ok) assert.equal(r.reason, reason, r.message);
}

/** a leads a, b, c; d joins as a learner (added, started, caught up). */
function withLearner(mutant?: Mutant, extra: readonly NodeId[] = []): TestCluster {
  const voters = ['a', 'b', 'c', ...extra];
  const c = new TestCluster(voters, mutant === undefined ? {} : { mutant });
  c.electFirst();
  c.run(300);
  ok(propose(c, 'a', cc('add-learner', 'd')));
  c.addNode('d', { voters, learners: ['d'] }, c.get('a').nowMs);
  c.run(500);
  return c;
}

const voters = (c: TestCluster, id: NodeId): readonly NodeId[] => c.node(id).confState().voters;

test('codec: a ConfChange entry round-trips with its resulting configuration; junk is a typed error', () => {
  const change = cc('promote', 'n4');
  const data = encodeConfChange(change, { voters: ['n1', 'n4'], learners: [], removed: ['n2'] });
  assert.deepEqual(decodeConfChange(data), change);
  assert.deepEqual(decodeConfEntry(data).confState, { voters: ['n1', 'n4'], learners: [], removed: ['n2'] });
  for (const junk of [
    new Uint8Array(0),
    new Uint8Array([9, 0]),
    data.slice(0, data.length - 1),
    Uint8Array.from([...data, 0]),
  ]) {
    assert.throws(() => decodeConfEntry(junk), ConfDecodeError);
  }
  // A configuration without voters, or listing a member twice, never decodes.
  assert.throws(() => decodeConfEntry(encodeConfChange(change, { voters: [], learners: ['x'] })), ConfDecodeError);
  assert.throws(() => decodeConfEntry(encodeConfChange(change, { voters: ['x'], learners: ['x'] })), ConfDecodeError);
});

test('add learner: in force on append, replicated, committed; the learner receives the log', () => {
  const c = withLearner();
  assert.deepEqual(c.node('a').confState(), { voters: ['a', 'b', 'c'], learners: ['d'], removed: [] });
  const i = c.propose('a', 'x');
  c.run(200);
  assert.equal(c.node('d').status(c.get('d').nowMs).commit >= i, true);
  assert.deepEqual(c.node('d').confState().learners, ['d']);
  // Every node reported the configuration change once (event 'config').
  for (const id of ['a', 'b', 'c']) assert.equal(c.eventsOf(id, 'config').length, 1, id);
});

test('a learner never campaigns, its vote never counts, and it never counts for commit or lease', () => {
  const c = withLearner();
  ok(propose(c, 'a', cc('add-learner', 'e')));
  c.addNode('e', { voters: ['a', 'b', 'c'], learners: ['d', 'e'] }, c.get('a').nowMs);
  c.run(500);
  // Cut b and c off: a + learners d, e would be 3 of 5 nodes, but they are 1 of 3 voters.
  c.drop = (m) => ['b', 'c'].includes(m.from) || ['b', 'c'].includes(m.to);
  const commitBefore = c.node('a').status(0).commit;
  c.propose('a', 'y');
  c.run(1500);
  assert.equal(c.node('a').status(0).commit, commitBefore, 'learner acks do not commit');
  assert.ok(
    c.eventsOf('a', 'step-down').some((e) => e.kind === 'step-down' && /lease renewal failed/.test(e.reason)),
    'learner acks do not keep the lease',
  );
  // Cut the learners off from everybody for a long time: they never become (pre-)candidates.
  c.drop = (m) => ['d', 'e'].includes(m.from) || ['d', 'e'].includes(m.to);
  c.run(6000);
  for (const id of ['d', 'e'])
    assert.equal(
      c.get(id).events.some((e) => e.kind === 'role' && e.role !== 'follower'),
      false,
      id,
    );
  // b campaigns with a and c silent: it asks voters only, and a (pre-)vote from learner d does not count.
  c.drop = (m) => ['a', 'c'].includes(m.from) || ['a', 'c'].includes(m.to);
  const b = c.get('b');
  for (let i = 0; i < 50 && b.node.role !== 'pre-candidate'; i++) c.advance(100);
  assert.equal(b.node.role, 'pre-candidate');
  assert.equal(
    c.queue.some((m) => m.type === 'vote' && ['d', 'e'].includes(m.to)),
    false,
    'learners are not asked',
  );
  b.node.step(
    {
      type: 'voteResp',
      from: 'd',
      to: 'b',
      term: b.node.term + 1,
      preVote: true,
      granted: true,
      oldLeaseRemainingMs: 0,
    },
    b.nowMs,
  );
  c.pump('b');
  assert.equal(b.node.role, 'pre-candidate', 'b + learner d are not a majority of a, b, c');
});

test('one change in flight: a second change waits until the first is committed', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  c.drop = (m) => m.type === 'appResp';
  ok(propose(c, 'a', cc('add-learner', 'd')));
  refused(propose(c, 'a', cc('add-learner', 'e')), 'change-in-flight');
  c.drop = () => false;
  c.run(300);
  ok(propose(c, 'a', cc('add-learner', 'e')));
});

test("no change before an entry of the leader's own term is committed (raft-dev 2015)", () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.drop = (m) => m.type === 'appResp' && m.matchIndex >= 1;
  c.run(1100);
  assert.deepEqual(c.leaders(), ['a']);
  const r = propose(c, 'a', cc('add-learner', 'd'));
  refused(r, 'lease-not-confirmed');
  assert.match(r.ok ? '' : r.message, /no entry of this leader's term is committed/);
  // The mutant lets it through.
  const m = new TestCluster(['a', 'b', 'c'], { mutant: 'change-before-term-commit' });
  m.drop = (x) => x.type === 'appResp' && x.matchIndex >= 1;
  m.run(1100);
  const t = m.get('a');
  const r2 = t.node.proposeConfChange(cc('add-learner', 'd'), t.nowMs);
  assert.doesNotMatch(r2.ok ? '' : r2.message, /this leader's term/);
});

test('no change while the lease is not valid and confirmed in the configuration in force', () => {
  const c = withLearner();
  const t = c.get('a');
  // A stalled leader (no tick) whose lease ran out: refused at the time of the request.
  const late = t.nowMs + 2000;
  refused(t.node.proposeConfChange(cc('promote', 'd'), late), 'lease-not-confirmed');
  t.nowMs = late;
  t.node.tick(late);
  c.pump('a');
  assert.deepEqual(c.leaders().includes('a'), false, 'it noticed and stepped down');
});

test('promote is refused until the learner is caught up (match >= commit index), then allowed', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  ok(propose(c, 'a', cc('add-learner', 'd')));
  c.addNode('d', { voters: ['a', 'b', 'c'], learners: ['d'] }, c.get('a').nowMs);
  c.drop = isolate('d');
  c.run(300);
  const r = propose(c, 'a', cc('promote', 'd'));
  refused(r, 'learner-not-caught-up');
  assert.match(r.ok ? '' : r.message, /commit index/);
  c.drop = () => false;
  c.run(600);
  ok(propose(c, 'a', cc('promote', 'd')));
  c.run(300);
  for (const id of ['a', 'b', 'c', 'd']) assert.deepEqual(voters(c, id), ['a', 'b', 'c', 'd'], id);
});

test('refusals: unknown member, already a member, removed ids never come back', () => {
  const c = withLearner();
  refused(propose(c, 'a', cc('promote', 'z')), 'unknown-member');
  refused(propose(c, 'a', cc('remove', 'z')), 'unknown-member');
  refused(propose(c, 'a', cc('add-learner', 'b')), 'already-member');
  refused(propose(c, 'a', cc('add-learner', 'd')), 'already-member');
  ok(propose(c, 'a', cc('remove', 'd')));
  c.run(300);
  refused(propose(c, 'a', cc('add-learner', 'd')), 'removed-id');
  refused(propose(c, 'b', cc('add-learner', 'e')), 'not-leader');
});

test('a change that would leave fewer healthy voters than a majority is refused unless forced', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  c.drop = isolate('c'); // c is silent: a and b are the healthy voters
  c.run(1200);
  const r = propose(c, 'a', cc('remove', 'b'));
  refused(r, 'would-lose-quorum');
  ok(propose(c, 'a', cc('remove', 'b'), true));
});

test('a new voter counts toward the lease only once it has acknowledged a round as a voter', () => {
  for (const mutant of [undefined, 'new-voter-counts-before-ack'] as const) {
    // Five voters and a learner f; promote f (6 voters, majority 4), then only a, b, c hear each other.
    const c = new TestCluster(['a', 'b', 'c', 'd', 'e'], mutant === undefined ? {} : { mutant });
    c.electFirst();
    c.run(300);
    ok(propose(c, 'a', cc('add-learner', 'f')));
    c.addNode('f', { voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f'] }, c.get('a').nowMs);
    c.run(500);
    ok(propose(c, 'a', cc('promote', 'f')));
    c.drop = (m) => !['a', 'b', 'c'].includes(m.from) || !['a', 'b', 'c'].includes(m.to);
    c.run(950);
    const stepped = c
      .eventsOf('a', 'step-down')
      .some((e) => e.kind === 'step-down' && /lease renewal failed/.test(e.reason));
    assert.equal(stepped, mutant === undefined, `mutant=${mutant ?? 'none'}: a, b, c are 3 of 6 voters, no lease`);
  }
});

test('removing the leader: it hands over (lease given up first), leaves, and never campaigns again', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  ok(propose(c, 'a', cc('remove', 'a')));
  c.run(2000);
  const ls = c.leaders();
  assert.equal(ls.length, 1);
  assert.notEqual(ls[0], 'a');
  assert.ok(
    c.eventsOf('a', 'lease-lost').some((e) => e.kind === 'lease-lost' && /given up for transfer/.test(e.reason)),
  );
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.node(id).confState().voters, ['b', 'c'], id);
  // a stays out: cut the leader off; a never campaigns, b and c elect among themselves.
  const before = c.get('a').events.length;
  c.drop = isolate(ls[0] as NodeId);
  c.run(6000);
  assert.equal(
    c
      .get('a')
      .events.slice(before)
      .some((e) => e.kind === 'election-timeout'),
    false,
  );
  assert.equal(c.node('a').status(0).role, 'follower');
});

test('transfer target must be a caught-up voter; null picks one', () => {
  const c = withLearner();
  const now = (): number => c.get('a').nowMs;
  assert.equal(c.node('a').transferLeadership('d', now()), false, 'a learner is no target');
  c.drop = isolate('c');
  c.run(1200); // c silent for more than an election timeout: not caught up
  assert.equal(c.node('a').transferLeadership('c', now()), false, 'a silent voter is no target');
  assert.equal(c.node('a').transferLeadership(null, now()), true);
  c.pump('a');
  c.run(500);
  assert.deepEqual(c.leaders(), ['b']);
});

test('restart takes the configuration from snapshot + log, not from the bootstrap members', () => {
  const c = withLearner();
  ok(propose(c, 'a', cc('promote', 'd')));
  c.run(300);
  // Compact past both changes on b, then another change after the snapshot point.
  const b = c.get('b');
  const at = b.node.status(b.nowMs).commit;
  b.node.compact(at);
  b.disk.snapshot = { index: at, term: b.node.status(b.nowMs).term, confState: b.node.confStateAt(at) };
  b.disk.entries = b.disk.entries.filter((e) => e.index > at);
  ok(propose(c, 'a', cc('add-learner', 'e')));
  c.run(300);
  for (const id of ['a', 'b', 'c', 'd']) {
    c.restart(id);
    assert.deepEqual(c.node(id).confState(), { voters: ['a', 'b', 'c', 'd'], learners: ['e'], removed: [] }, id);
  }
});

test('an uncommitted configuration change that is truncated away is no longer in force', () => {
  const c = new TestCluster(['a', 'b', 'c', 'd', 'e']);
  c.electFirst();
  c.run(300);
  // The change reaches b only, and b's acknowledgements are lost: it stays uncommitted.
  c.drop = (m) => (m.from === 'a' && m.to !== 'b') || (m.from === 'b' && m.to === 'a');
  ok(propose(c, 'a', cc('add-learner', 'x')));
  c.run(50);
  assert.deepEqual(c.node('b').confState().learners, ['x']);
  // a and b are cut off; c, d, e elect a leader whose log lacks the change, then b hears it.
  c.drop = partition(['a', 'b'], ['c', 'd', 'e']);
  c.run(4000);
  const l = c.leaders().find((id) => ['c', 'd', 'e'].includes(id));
  assert.ok(l !== undefined);
  c.drop = isolate('a');
  c.run(500);
  assert.deepEqual(c.node('b').confState().learners, [], 'b reverted to the configuration before the change');
  assert.equal(c.eventsOf('b', 'config').length, 2);
});

test('a leader that steps down while waiting out an old lease passes that lease on (two leader changes back to back)', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.run(300);
  // b stops hearing a for a while: its own belief in a's lease is old, c's is fresh.
  c.drop = (m) => m.from === 'a' && m.to === 'b';
  c.run(400);
  c.drop = () => false;
  c.node('a').transferLeadership('b', c.get('a').nowMs);
  c.pump('a');
  c.deliverAll();
  const b = c.get('b');
  assert.equal(b.node.role, 'leader');
  const st = b.node.status(b.nowMs);
  assert.equal(st.waitingForOldLease, true);
  // A newer term shows up at once: b steps down before its wait is over.
  b.node.step(
    {
      type: 'app',
      from: 'c',
      to: 'b',
      term: st.term + 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [],
      commit: 0,
      leaseDurationMs: 0,
      round: 1,
    },
    b.nowMs,
  );
  c.pump('b');
  const after = b.node.status(b.nowMs);
  assert.equal(after.role, 'follower');
  // What c reported (a full observer lease, converted by the drift bound: > 900 ms) is what b now
  // reports to candidates, not its own older belief (≈ 509 ms) nor its own unusable lease (891 ms).
  assert.ok(after.oldLeaseRemainingMs > 900, `b passes on ${after.oldLeaseRemainingMs} ms`);
});

test('after a change the lease counts a majority of the configuration in force, not the one the leader was elected in', () => {
  for (const mutant of [undefined, 'lease-one-config'] as const) {
    // a leads a, b, c; d and e join and are promoted (5 voters); then a and b are cut from c, d, e.
    const c = new TestCluster(['a', 'b', 'c'], mutant === undefined ? {} : { mutant });
    c.electFirst();
    c.run(300);
    for (const id of ['d', 'e']) {
      ok(propose(c, 'a', cc('add-learner', id)));
      c.addNode(id, { voters: c.node('a').confState().voters, learners: [id] }, c.get('a').nowMs);
      c.run(500);
      ok(propose(c, 'a', cc('promote', id)));
      c.run(300);
    }
    assert.deepEqual(voters(c, 'a'), ['a', 'b', 'c', 'd', 'e']);
    c.drop = partition(['a', 'b'], ['c', 'd', 'e']);
    c.run(950);
    const stepped = c
      .eventsOf('a', 'step-down')
      .some((e) => e.kind === 'step-down' && /lease renewal failed/.test(e.reason));
    assert.equal(stepped, mutant === undefined, `mutant=${mutant ?? 'none'}: a and b are 2 of 5 voters, no lease`);
  }
});

test('a transfer that timed out leaves the lease given up: the leader steps down instead of resuming (etcd-io/raft#99)', () => {
  for (const mutant of [undefined, 'transfer-resumes-lease'] as const) {
    const c = new TestCluster(['a', 'b', 'c'], mutant === undefined ? {} : { mutant });
    c.electFirst();
    c.run(300);
    c.drop = (m) => m.type === 'timeoutNow';
    assert.equal(c.node('a').transferLeadership('b', c.get('a').nowMs), true);
    c.run(1200);
    const a = c.get('a');
    assert.equal(
      a.node.role === 'leader' && a.node.isLeaseValid(a.nowMs),
      mutant !== undefined,
      `mutant=${mutant ?? 'none'}`,
    );
  }
});
