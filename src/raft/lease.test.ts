// The lease rules (docs/lease-safety.md), one test per rule. Where a mutant breaks the rule, the
// same scenario is run against it to show the test can tell the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendRequest, Mutant, NodeId, RaftEvent, VoteResponse } from './types.ts';
import { Solo, TestCluster, heartbeat, isolate, voteReq } from './testkit.ts';

const D = 900;
const RHO = 0.01;
const HOLDER = D * (1 - RHO); // 891
const OBSERVER = D * (1 + RHO); // 909

function cluster(mutant?: Mutant): TestCluster {
  const c = new TestCluster(['a', 'b', 'c'], mutant === undefined ? {} : { mutant });
  c.electFirst();
  c.run(300);
  return c;
}

function leaseUntil(c: TestCluster, id: NodeId): number {
  const t = c.get(id);
  const st = t.node.status(t.nowMs);
  assert.ok(st.leaseHeld, `${id} holds a lease`);
  return t.nowMs + st.leaseRemainingMs;
}

test('lease starts at the SEND time of the round a majority acknowledged, lasts D·(1−ρ)', () => {
  const measure = (mutant?: Mutant): number => {
    const c = cluster(mutant);
    c.fire('a'); // heartbeat round sent now
    const sentMs = c.get('a').nowMs;
    while (c.deliverOne((m) => m.type === 'app') !== null);
    c.advanceNode('a', 50); // acknowledgements take 50 ms to come back
    c.deliverAll();
    return leaseUntil(c, 'a') - sentMs;
  };
  assert.equal(measure(), HOLDER);
  assert.equal(measure('lease-from-ack'), 50 + HOLDER, 'the mutant dates the lease from the acks');
  assert.equal(measure('no-drift-margin'), D, 'the mutant drops the (1−ρ)');
});

test('lease renewal: every acknowledged heartbeat round extends the lease, which never shrinks', () => {
  const c = cluster();
  let last = leaseUntil(c, 'a');
  for (let i = 0; i < 100; i++) {
    c.run(10, 10);
    const u = leaseUntil(c, 'a');
    assert.ok(u >= last);
    last = u;
  }
  const renewals = c.eventsOf('a', 'lease-renewed') as Extract<RaftEvent, { kind: 'lease-renewed' }>[];
  assert.ok(renewals.length >= 9);
  for (let i = 1; i < renewals.length; i++) assert.ok((renewals[i]?.untilMs ?? 0) > (renewals[i - 1]?.untilMs ?? 0));
});

test('lease renewal never queues behind a slow disk: heartbeats leave while a Ready is being persisted', () => {
  const c = cluster();
  const idx = c.propose('a', 'x');
  c.slowDisk.add('a');
  c.slowDisk.add('b');
  c.slowDisk.add('c');
  c.pumpAll();
  const before = leaseUntil(c, 'a');
  // Three lease lengths pass while every disk is stuck on a Ready.
  for (let i = 0; i < 300; i++) c.run(10, 10);
  assert.equal(c.node('a').status(0).role, 'leader', 'the leader kept its lease through heartbeat rounds');
  assert.ok(leaseUntil(c, 'a') > before + 2000);
  assert.ok(c.node('a').leaseRead(c.get('a').nowMs) !== null);
  assert.ok(c.node('a').status(0).commit < idx, 'nothing that needs the disk was claimed meanwhile');
  for (const id of ['a', 'b', 'c']) c.flushDisk(id);
  c.run(300, 10);
  assert.ok(c.node('a').status(0).commit >= idx);
});

test('every heartbeat round reaches each follower as a heartbeat, even when appends carry it', () => {
  // An append's acknowledgement waits for the follower's fsync; a heartbeat's does not. Under a
  // steady stream of writes every round has entries to carry, so without its own heartbeat the
  // lease would be renewed only as fast as the followers' disks.
  const c = cluster();
  const t = c.get('a');
  const r = t.node.propose(new TextEncoder().encode('w'), t.nowMs);
  assert.ok(r.ok);
  t.nowMs = t.node.nextTickAtMs();
  t.node.tick(t.nowMs);
  const rd = t.node.ready(t.nowMs);
  assert.ok(rd !== null);
  for (const to of ['b', 'c']) {
    const apps: AppendRequest[] = [];
    for (const o of rd.messages) if (o.msg.to === to && o.msg.type === 'app') apps.push(o.msg);
    const withEntries = apps.filter((m) => m.entries.length > 0);
    const heartbeats = apps.filter((m) => m.entries.length === 0);
    assert.equal(withEntries.length, 1, `the new entry goes to ${to}`);
    assert.equal(heartbeats.length, 1, `and a heartbeat of the same round follows it to ${to}`);
    const [hb, app] = [heartbeats[0], withEntries[0]];
    assert.ok(hb !== undefined && app !== undefined);
    assert.equal(hb.round, app.round);
    assert.equal(hb.prevLogIndex, r.index, 'checking the log at the point the appends reach');
  }
  t.node.advance(rd, t.nowMs);
});

test('a follower whose disk is slow but which answers heartbeats is not re-probed: appends stay pipelined', () => {
  const c = cluster();
  c.asyncDisk.add('b');
  c.drop = isolate('c');
  for (let i = 0; i < 150; i++) {
    const t = c.get('a');
    t.node.propose(new TextEncoder().encode(`w${i}`), t.nowMs);
    c.run(10, 10);
  }
  // 1.5 s without b's match moving (its disk holds every write), well past the retransmit time.
  const st = c.node('a').status(c.get('a').nowMs);
  assert.equal(st.progress['b']?.state, 'replicate');
  assert.equal(st.role, 'leader');
  c.flushDisk('b');
  c.run(300, 10);
  assert.ok(c.node('a').status(c.get('a').nowMs).commit >= 150);
});

test('a leader whose lease runs out unrenewed steps down, exactly then', () => {
  const c = cluster();
  c.drop = isolate('a');
  const until = leaseUntil(c, 'a');
  while (c.get('a').nowMs < until - 1) c.run(1, 1);
  assert.equal(c.node('a').status(0).role, 'leader');
  c.run(1, 1);
  assert.equal(c.node('a').status(0).role, 'follower');
  const sd = c.eventsOf('a', 'step-down') as Extract<RaftEvent, { kind: 'step-down' }>[];
  assert.deepEqual(
    sd.map((e) => e.reason),
    ['lease renewal failed, stepping down'],
  );
});

test('the lease is checked at the time of serving: a stalled leader whose tick never ran sees none', () => {
  const c = cluster();
  const a = c.get('a');
  const until = leaseUntil(c, 'a');
  assert.notEqual(a.node.leaseRead(a.nowMs), null);
  a.nowMs = until; // the process was paused; no tick has run since
  assert.equal(a.node.status(a.nowMs).role, 'leader', 'it does not know yet');
  assert.equal(a.node.leaseRead(a.nowMs), null);
  assert.equal(a.node.isLeaseValid(a.nowMs), false);
  assert.equal(a.node.leaseRead(until - 0.001), 0 + a.node.status(0).commit, 'valid just before');
});

test('a follower records the leader lease as its receive time + D·(1+ρ)', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.step(heartbeat('a', 'b', 1, { leaseDurationMs: D }));
  assert.equal(b.node.status(b.nowMs).oldLeaseRemainingMs, OBSERVER);
  const m = new Solo('b', ['a', 'b', 'c'], { overrides: { mutant: 'no-drift-margin' } });
  m.step(heartbeat('a', 'b', 1, { leaseDurationMs: D }));
  assert.equal(m.node.status(m.nowMs).oldLeaseRemainingMs, D, 'the mutant drops the (1+ρ)');
});

function reply(out: ReturnType<Solo['step']>): VoteResponse {
  const r = out.find((m): m is VoteResponse => m.type === 'voteResp');
  assert.ok(r);
  return r;
}

test('a voter that believes a lease is valid refuses votes and pre-votes, without adopting the term', () => {
  const run = (mutant?: Mutant): boolean[] => {
    const b = new Solo('b', ['a', 'b', 'c'], mutant === undefined ? {} : { overrides: { mutant } });
    b.step(heartbeat('a', 'b', 1));
    const pre = reply(b.step(voteReq('c', 'b', 2, 5, 1, { preVote: true }), 100)).granted;
    const real = reply(b.step(voteReq('c', 'b', 2, 5, 1))).granted;
    if (mutant === undefined) assert.equal(b.node.status(b.nowMs).term, 1);
    const after = reply(b.step(voteReq('c', 'b', 3, 5, 1, { preVote: true }), OBSERVER)).granted;
    return [pre, real, after];
  };
  assert.deepEqual(run(), [false, false, true]);
  assert.deepEqual(run('vote-inside-lease'), [true, true, true]);
});

test('a leader that gave its lease up may be succeeded at once (transfer = true is granted inside the lease)', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.step(heartbeat('a', 'b', 1));
  assert.equal(reply(b.step(voteReq('c', 'b', 2, 5, 1, { transfer: true }), 100)).granted, true);
});

test('a vote reply carries the remaining old lease on the voter clock', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.step(heartbeat('a', 'b', 1));
  const r = reply(b.step(voteReq('c', 'b', 2, 5, 1, { transfer: true }), 100));
  assert.equal(r.oldLeaseRemainingMs, OBSERVER - 100);
  const refused = reply(b.step(voteReq('a', 'b', 3, 5, 1, { preVote: true }), 10));
  assert.equal(refused.oldLeaseRemainingMs, OBSERVER - 110, 'refusals carry it too');
});

test('the new leader waits remaining·(1+ρ)/(1−ρ) on its own clock before acquiring its lease', () => {
  const waitFor = (mutant?: Mutant): { waitedMs: number | null; lease: boolean } => {
    const b = new Solo('b', ['a', 'b', 'c'], mutant === undefined ? {} : { overrides: { mutant } });
    b.tick(1000); // election timeout → pre-vote
    b.step({ type: 'voteResp', from: 'a', to: 'b', term: 1, preVote: true, granted: true, oldLeaseRemainingMs: 0 });
    const t0 = b.nowMs;
    b.step({ type: 'voteResp', from: 'c', to: 'b', term: 1, preVote: false, granted: true, oldLeaseRemainingMs: 500 });
    assert.equal(b.node.status(b.nowMs).role, 'leader');
    const ev = b.events.find((e) => e.kind === 'waiting-old-lease');
    return {
      waitedMs: ev && ev.kind === 'waiting-old-lease' ? ev.untilMs - t0 : null,
      lease: b.node.status(b.nowMs).waitingForOldLease,
    };
  };
  const real = waitFor();
  assert.ok(real.waitedMs !== null && Math.abs(real.waitedMs - (500 * (1 + RHO)) / (1 - RHO)) < 1e-9);
  assert.equal(real.lease, true);
  assert.deepEqual(waitFor('no-old-lease-wait'), { waitedMs: null, lease: false });
});

test('while waiting for the old lease the new leader commits and serves ReadIndex but no lease read', () => {
  const c = cluster();
  assert.ok(c.node('a').transferLeadership('b', c.get('a').nowMs));
  c.deliverAll();
  assert.deepEqual(c.leaders(), ['b']);
  const b = c.get('b');
  const st = b.node.status(b.nowMs);
  assert.ok(st.waitingForOldLease);
  const idx = c.propose('b', 'w');
  c.deliverAll();
  assert.ok(b.node.status(b.nowMs).commit >= idx, 'commits while waiting');
  assert.equal(b.node.leaseRead(b.nowMs), null);
  b.node.readIndex(7, b.nowMs);
  c.deliverAll();
  assert.deepEqual(
    b.readStates.map((r) => r.requestId),
    [7],
  );
  assert.ok((b.readStates[0]?.index ?? 0) >= idx);
  c.run(1000, 10);
  assert.notEqual(b.node.leaseRead(b.nowMs), null, 'acquired after the wait');
  assert.equal(c.eventsOf('b', 'lease-acquired').length, 1);
});

test('no lease read before an entry of the current term is committed', () => {
  const run = (mutant?: Mutant): { leaseValid: boolean; read: number | null } => {
    const c = cluster(mutant);
    for (const id of c.ids) c.rand.set(id, id === 'b' ? 0 : 0.9);
    const noop = c.node('b').status(0).lastIndex + 1;
    // Followers' acknowledgements of b's NO-OP are lost; their heartbeat acknowledgements are not.
    c.drop = (m) =>
      m.from === 'a' || m.to === 'a' || (m.type === 'appResp' && m.to === 'b' && m.success && m.matchIndex >= noop);
    for (let i = 0; i < 400 && !c.leaders().includes('b'); i++) c.run(10, 10);
    c.run(200, 10);
    const b = c.get('b');
    return { leaseValid: b.node.isLeaseValid(b.nowMs), read: b.node.leaseRead(b.nowMs) };
  };
  assert.deepEqual(run(), { leaseValid: true, read: null });
  const m = run('read-before-noop');
  assert.equal(m.leaseValid, true);
  assert.notEqual(m.read, null, 'the mutant serves from a commit index that may lag');
});

test('leadership transfer gives up the lease FIRST, and late acknowledgements do not revive it', () => {
  const run = (mutant?: Mutant): boolean[] => {
    const c = cluster(mutant);
    c.fire('a'); // a round is in flight when the transfer starts
    const a = c.get('a');
    const before = a.node.isLeaseValid(a.nowMs);
    assert.ok(a.node.transferLeadership('b', a.nowMs));
    const right = a.node.leaseRead(a.nowMs) !== null;
    c.deliverAll(); // includes the acknowledgements of the round sent before the transfer
    return [before, right, a.node.isLeaseValid(a.nowMs)];
  };
  const [before, right, later] = run();
  assert.deepEqual([before, right, later], [true, false, false]);
  const [, mRight] = run('transfer-keeps-lease');
  assert.equal(mRight, true, 'the mutant keeps serving lease reads while handing over');
});

test('after giving up its lease for a transfer, a leader claims no lease in its AppendRequests', () => {
  const c = cluster();
  const a = c.get('a');
  c.drop = (m) => m.type === 'timeoutNow'; // the transfer never completes
  assert.equal(c.queue.length, 0);
  a.node.transferLeadership('b', a.nowMs);
  c.advanceNode('a', 100); // next heartbeat round
  const apps = c.queue.filter((m) => m.from === 'a' && m.type === 'app');
  assert.ok(apps.length >= 2);
  for (const m of apps) assert.ok(m.type === 'app' && m.leaseDurationMs === 0);
});

test('a transfer that does not complete within an election timeout ends with the leader stepping down', () => {
  const c = cluster();
  c.drop = (m) => m.type === 'timeoutNow';
  const a = c.get('a');
  a.node.transferLeadership('b', a.nowMs);
  c.run(1100, 10);
  const sd = c.eventsOf('a', 'step-down') as Extract<RaftEvent, { kind: 'step-down' }>[];
  assert.match(sd[0]?.reason ?? '', /leadership transfer to b timed out/);
});

test('a restarted node refuses every vote for D·(1+ρ) after it starts, and does not campaign', () => {
  const b = new Solo('b', ['a', 'b', 'c'], { term: 1, logTerms: [1] });
  assert.equal(reply(b.step(voteReq('c', 'b', 2, 1, 1, { preVote: true }))).granted, false);
  assert.equal(reply(b.step(voteReq('c', 'b', 2, 1, 1, { transfer: true }))).granted, false);
  assert.equal(reply(b.step(voteReq('c', 'b', 2, 1, 1), OBSERVER - 1)).granted, false);
  assert.equal(b.node.status(b.nowMs).term, 1);
  assert.equal(reply(b.step(voteReq('c', 'b', 2, 1, 1), 1)).granted, true);
  // And a fresh (never restarted) node votes at once.
  const f = new Solo('b', ['a', 'b', 'c']);
  assert.equal(reply(f.step(voteReq('c', 'b', 1, 0, 0))).granted, true);
});

test('a restarted single node does not elect itself before its hold ends', () => {
  const s = new Solo('a', ['a'], { term: 3, logTerms: [1, 3] });
  assert.ok(s.node.nextTickAtMs() >= s.nowMs + OBSERVER);
  s.tick(OBSERVER - 1);
  assert.equal(s.node.status(s.nowMs).role, 'follower');
  s.tick(2000);
  assert.equal(s.node.status(s.nowMs).role, 'leader');
});

test('a node that believes a lease does not campaign either (its own vote counts like any other)', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.step(heartbeat('a', 'b', 1, { leaseDurationMs: 3000 })); // a leader claiming a longer lease
  const out = b.tick(1000); // the election timer fires
  assert.equal(out.length, 0);
  assert.equal(b.node.status(b.nowMs).role, 'follower');
  assert.equal(b.node.nextTickAtMs(), b.nowMs - 1000 + 3000 * (1 + RHO));
  b.tick(3000 * (1 + RHO) - 1000);
  assert.equal(b.node.status(b.nowMs).role, 'pre-candidate');
});
