// Issue 16: the log past the snapshot lives on disk; the core keeps a bounded window of entry data.
// Trimming (RaftLog.trimWindow), and the leader's read-back path (Ready.logReads → entriesRead):
// reads asked, answered, and stale answers dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_OVERHEAD_BYTES, RaftLog } from './log.ts';
import type { Entry, LogRead, Message } from './types.ts';
import { TestCluster, isolate } from './testkit.ts';

const ent = (index: number, term: number, bytes = 0): Entry => ({
  index,
  term,
  type: 0,
  data: new Uint8Array(bytes),
});
const conf = { voters: ['a'], learners: [] };
const per = ENTRY_OVERHEAD_BYTES; // each entry below carries no data

test('trimWindow drops only applied and stable entries, keeps every term, and trims in quarter steps', () => {
  const l = RaftLog.restore(
    null,
    [1, 1, 2, 2, 2, 3, 3, 3, 3, 3].map((t, i) => ent(i + 1, t)),
    10,
    conf,
  );
  assert.equal(l.stabled, 10);
  l.applied = 6;
  assert.equal(l.trimWindow(10 * per), 0, 'within the window: nothing');
  assert.equal(l.trimWindow(2 * per), 6, 'only what is applied goes, whatever the window');
  assert.equal(l.firstInMemory(), 7);
  assert.equal(l.inMemoryBytes(), 4 * per);
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 10].map((i) => l.term(i)),
    [1, 1, 2, 2, 2, 3, 3, 3],
  );
  assert.equal(l.lastIndexOfTerm(2), 5, 'the last index of a trimmed term');
  assert.equal(l.lastIndexOfTerm(1), 2);
  assert.throws(() => l.entryAt(6), /no entry at 6/);
  assert.deepEqual(l.conflictHint(4), { index: 3, term: 2 }, 'hints work over trimmed terms');
  l.applied = 10;
  assert.equal(l.trimWindow(Math.floor(3.5 * per)), 0, 'less than a quarter over: not trimmed yet');
  assert.equal(l.trimWindow(2 * per), 2, 'trimmed down to the window');
  assert.equal(l.firstInMemory(), 9);
});

test('trimWindow never trims what is not yet stable', () => {
  const l = new RaftLog(conf);
  for (let i = 1; i <= 6; i++) l.append(ent(i, 1));
  l.commitTo(6);
  l.applied = 6;
  l.stabled = 3;
  assert.equal(l.trimWindow(1), 3);
  assert.equal(l.firstInMemory(), 4);
  assert.equal(l.unstableEntries().length, 3, 'the unstable entries are still handed out');
});

test('compaction inside and past the trimmed range keeps terms right', () => {
  const l = RaftLog.restore(
    null,
    [1, 1, 2, 2, 3, 3, 3, 4].map((t, i) => ent(i + 1, t)),
    8,
    conf,
  );
  l.applied = 8;
  assert.equal(l.trimWindow(per), 7);
  l.compact(3);
  assert.equal(l.snapshot?.term, 2);
  assert.deepEqual(
    [3, 4, 5, 7, 8].map((i) => l.term(i)),
    [2, 2, 3, 3, 4],
  );
  assert.equal(l.term(2), null);
  l.compact(4);
  assert.deepEqual(
    [4, 5, 6, 7].map((i) => l.term(i)),
    [2, 3, 3, 3],
  );
  l.compact(7);
  assert.deepEqual(
    [7, 8].map((i) => l.term(i)),
    [3, 4],
  );
  assert.equal(l.firstInMemory(), 8);
  l.compact(8);
  assert.equal(l.lastIndex(), 8);
  assert.equal(l.lastTerm(), 4);
  assert.equal(l.inMemoryBytes(), 0);
});

/** A three-node cluster with a tiny window: c falls behind while a and b commit `n` entries. */
function lagging(n: number, overrides = {}): TestCluster {
  const c = new TestCluster(['a', 'b', 'c'], { logWindowBytes: 4 * per, maxEntriesPerAppend: 4, ...overrides });
  c.electFirst();
  c.run(200);
  c.drop = isolate('c');
  for (let i = 0; i < n; i++) c.propose('a', `v${i}`);
  c.run(300);
  return c;
}

test('a follower behind the window catches up from log reads, with nothing kept in memory past it', () => {
  const c = lagging(30);
  const a = c.node('a');
  assert.ok(a.status(0).commit >= 31);
  c.drop = () => false;
  c.run(1000);
  assert.ok((c.logReadsAsked.get('a') ?? 0) > 0, 'the leader read entries back');
  assert.equal(c.node('c').status(0).lastIndex, a.status(0).lastIndex);
  assert.deepEqual(
    c.get('c').applied.map((e) => e.index),
    c.get('a').applied.map((e) => e.index),
  );
  assert.equal(c.get('c').disk.snapshot, null, 'caught up from the log, not a snapshot');
});

test('a restarted leader trims to its window once applied, and still serves lagging followers', () => {
  const c = lagging(30);
  c.restart('a');
  c.drop = () => false;
  c.run(5000);
  const leader = c.leaders()[0];
  assert.ok(leader !== undefined);
  c.propose(leader, 'after');
  c.run(1000);
  for (const id of ['a', 'b', 'c']) assert.equal(c.node(id).status(0).commit, c.node(leader).status(0).lastIndex);
});

/** c acknowledges entries up to two past the read's first index: its next index moves past the read. */
function ackPastRead(r: LogRead): Message {
  return {
    type: 'appResp',
    from: 'c',
    to: 'a',
    term: r.term,
    success: true,
    matchIndex: r.lo + 2,
    rejectHint: null,
    round: 0,
  };
}

/** c lags; a's read for c is held, then answered after `meanwhile`. Returns the appends to c it caused. */
function answerLate(meanwhile: (c: TestCluster, r: LogRead) => void, overrides = {}): Message[] {
  const c = lagging(30, overrides);
  c.holdLogReads.add('a');
  c.drop = () => false;
  c.run(150);
  const reads = c.logReads.get('a') ?? [];
  assert.ok(reads.length > 0, 'a asked to read entries for c');
  const r = reads[0] as LogRead;
  meanwhile(c, r);
  c.queue = [];
  c.answerLogReads('a');
  return c.queue.filter((m) => m.to === 'c' && m.type === 'app' && m.entries.length > 0);
}

test('a read answered while still wanted is sent; the same answer is dropped once stale', () => {
  assert.equal(answerLate(() => {}).length, 1, 'fresh answer: sent');
  const staleNext = answerLate((c, r) => {
    // c's next index moved (another answer, an acknowledgement) while this read was out.
    c.get('a').node.entriesRead(r, null, c.get('a').nowMs);
    c.get('a').node.step(ackPastRead(r), c.get('a').nowMs);
  });
  assert.equal(staleNext.length, 0, 'stale next index: dropped');
  const compacted = answerLate((c, r) => c.node('a').compact(r.lo));
  assert.equal(compacted.length, 0, 'compacted meanwhile: dropped');
  const deposed = answerLate((c) => {
    c.node('a').step(
      { type: 'appResp', from: 'b', to: 'a', term: 9, success: false, matchIndex: 0, rejectHint: null, round: 0 },
      c.get('a').nowMs,
    );
  });
  assert.equal(deposed.length, 0, 'no longer leader: dropped');
});

test('the mutant log-read-stale-next is caught: it sends an answer for a next index that moved', () => {
  const sent = answerLate((c, r) => c.get('a').node.step(ackPastRead(r), c.get('a').nowMs), {
    mutant: 'log-read-stale-next',
  });
  assert.ok(sent.length > 0, 'the broken core sends entries the follower already has');
});

test('gone entries (the host answers null) fall back to a snapshot once the core compacts', () => {
  const c = lagging(30);
  c.holdLogReads.add('a');
  c.drop = () => false;
  c.run(150);
  const applied = c.get('a').applied.at(-1)?.index ?? 0;
  c.node('a').compact(applied);
  c.get('a').disk.entries = [];
  c.answerLogReads('a');
  c.holdLogReads.delete('a');
  c.run(1000);
  assert.equal(c.get('c').disk.snapshot?.index, applied);
  assert.equal(c.node('c').status(0).commit, c.node('a').status(0).commit);
});
