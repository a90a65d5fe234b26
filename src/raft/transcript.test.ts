// Readable transcripts (in the manner of etcd-io/raft's testdata): the whole story of a scenario,
// event by event, against the expected text. When behaviour changes on purpose, update the text.
// Columns: true ms, node, event. `untilMs` values are on the node's own clock (true + 1000 here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, isolate } from './testkit.ts';

const quiet = (l: string): boolean => !/ (lease-renewed|commit|old-lease-seen) /.test(l);
const text = (s: string): string[] =>
  s
    .trim()
    .split('\n')
    .map((l) => l.trim());

test('transcript: election, lease, leader cut off (lease runs out, it steps down), successor', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.run(1100, 10);
  c.drop = isolate('a');
  c.run(2000, 10);
  assert.deepEqual(
    c.trace.filter(quiet),
    text(`
    10 a role role=follower term=0 leader=null
    10 b role role=follower term=0 leader=null
    10 c role role=follower term=0 leader=null
    1000 a election-timeout term=0 preVote=true
    1000 a role role=pre-candidate term=0 leader=null
    1000 b vote candidate=a term=1 granted=true reason=pre-vote: granted
    1000 c vote candidate=a term=1 granted=true reason=pre-vote: granted
    1000 a role role=candidate term=1 leader=null
    1000 b role role=follower term=1 leader=null
    1000 b vote candidate=a term=1 granted=true reason=granted
    1000 c role role=follower term=1 leader=null
    1000 c vote candidate=a term=1 granted=true reason=granted
    1000 a role role=leader term=1 leader=a
    1000 b role role=follower term=1 leader=a
    1000 c role role=follower term=1 leader=a
    1000 a lease-acquired term=1 untilMs=2891
    2000 a lease-lost term=1 reason=not renewed in time
    2000 a step-down term=1 reason=lease renewal failed, stepping down
    2000 a role role=follower term=1 leader=null
    2500 b election-timeout term=1 preVote=true
    2500 b role role=pre-candidate term=1 leader=null
    2500 c vote candidate=b term=2 granted=true reason=pre-vote: granted
    2500 b role role=candidate term=2 leader=null
    2500 c role role=follower term=2 leader=null
    2500 c vote candidate=b term=2 granted=true reason=granted
    2500 b role role=leader term=2 leader=b
    2500 c role role=follower term=2 leader=b
    2500 b lease-acquired term=2 untilMs=4391
    3000 a election-timeout term=1 preVote=true
    3000 a role role=pre-candidate term=1 leader=null
  `),
  );
});

test('transcript: leadership transfer gives the lease up first; the target waits out the old lease', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.run(1100, 10);
  const from = c.trace.length;
  c.node('a').transferLeadership('b', c.get('a').nowMs);
  c.run(1000, 10);
  // b's wait: its own belief (heard a at 2100 → 2100 + 900·1.01 = 3009) and a's vote (a's own
  // lease, 881 ms left at 2110 → 2110 + 881·1.01/0.99 ≈ 3008.8). c's vote came after b had won.
  assert.deepEqual(
    c.trace.slice(from).filter(quiet),
    text(`
    1110 a lease-lost term=1 reason=given up for transfer to b
    1110 b election-timeout term=1 preVote=false
    1110 b role role=candidate term=2 leader=null
    1110 a role role=follower term=2 leader=null
    1110 a vote candidate=b term=2 granted=true reason=granted
    1110 c role role=follower term=2 leader=null
    1110 c vote candidate=b term=2 granted=true reason=granted
    1110 b role role=leader term=2 leader=b
    1110 b waiting-old-lease term=2 untilMs=3009
    1110 a role role=follower term=2 leader=b
    1110 c role role=follower term=2 leader=b
    2010 b lease-acquired term=2 untilMs=3801
  `),
  );
});

test('transcript: add a learner, promote it, remove the leader (it hands over after the removal commits)', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.run(1100, 10);
  const from = c.trace.length;
  const change = (kind: 'add-learner' | 'promote' | 'remove', id: string): void => {
    const t = c.get('a');
    assert.equal(t.node.proposeConfChange({ kind, id, context: new Uint8Array(0) }, t.nowMs).ok, true);
    c.pump('a');
  };
  change('add-learner', 'd');
  c.addNode('d', { voters: ['a', 'b', 'c'], learners: ['d'] }, c.get('a').nowMs);
  c.run(300, 10);
  change('promote', 'd');
  c.run(300, 10);
  change('remove', 'a');
  c.run(1500, 10);
  // Each configuration is in force on a node as soon as the entry is in its log (d, told the
  // configuration when it joined, reports no change when the entry reaches it). The removed
  // leader gives its lease up before TimeoutNow; b waits out that lease (as after any transfer).
  // a learns of term 2 from a follower's answer to its last heartbeat and, a non-voter, stays out.
  assert.deepEqual(
    c.trace.slice(from).filter(quiet),
    text(`
    1100 a config index=2 voters=a,b,c learners=d
    1110 d role role=follower term=0 leader=null
    1110 b config index=2 voters=a,b,c learners=d
    1110 c config index=2 voters=a,b,c learners=d
    1110 d role role=follower term=1 leader=a
    1110 a append-rejected from=d term=1 index=1
    1400 a config index=3 voters=a,b,c,d learners=
    1410 b config index=3 voters=a,b,c,d learners=
    1410 c config index=3 voters=a,b,c,d learners=
    1410 d config index=3 voters=a,b,c,d learners=
    1700 a config index=4 voters=b,c,d learners=
    1710 b config index=4 voters=b,c,d learners=
    1710 c config index=4 voters=b,c,d learners=
    1710 d config index=4 voters=b,c,d learners=
    1710 a lease-lost term=1 reason=given up for transfer to b
    1710 b election-timeout term=1 preVote=false
    1710 b role role=candidate term=2 leader=null
    1710 c role role=follower term=2 leader=null
    1710 c vote candidate=b term=2 granted=true reason=granted
    1710 d role role=follower term=2 leader=null
    1710 d vote candidate=b term=2 granted=true reason=granted
    1710 b role role=leader term=2 leader=b
    1710 b waiting-old-lease term=2 untilMs=3637.364
    1710 c role role=follower term=2 leader=b
    1710 d role role=follower term=2 leader=b
    1800 a role role=follower term=2 leader=null
    2640 b lease-acquired term=2 untilMs=4501
  `),
  );
});
