// The in-memory log: Log Matching at the follower, conflict hints, compaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from './log.ts';
import type { Entry } from './types.ts';
import { Solo, heartbeat } from './testkit.ts';

const ent = (index: number, term: number): Entry => ({ index, term, type: 0, data: new Uint8Array(0) });
const log = (...terms: number[]): RaftLog =>
  RaftLog.restore(
    null,
    terms.map((t, i) => ent(i + 1, t)),
    0,
    { voters: ['a'], learners: [] },
  );
const terms = (l: RaftLog): number[] => Array.from({ length: l.lastIndex() }, (_, i) => l.term(i + 1) ?? -1);

test('maybeAppend: rejects when prev does not match, appends when it does', () => {
  const l = log(1, 1, 2);
  assert.equal(l.maybeAppend(3, 1, [ent(4, 3)]), null);
  assert.equal(l.maybeAppend(5, 2, []), null);
  assert.equal(l.maybeAppend(3, 2, [ent(4, 3)]), 4);
  assert.deepEqual(terms(l), [1, 1, 2, 3]);
});

test('maybeAppend: a conflicting entry truncates it and all that follow; matching entries are kept', () => {
  const l = log(1, 1, 2, 2, 2);
  assert.equal(l.maybeAppend(1, 1, [ent(2, 1)]), 2);
  assert.deepEqual(terms(l), [1, 1, 2, 2, 2], 'a stale, shorter append truncates nothing');
  assert.equal(l.maybeAppend(2, 1, [ent(3, 3)]), 3);
  assert.deepEqual(terms(l), [1, 1, 3]);
});

test('maybeAppend never rewrites committed entries', () => {
  const l = log(1, 1, 2);
  l.commitTo(3);
  assert.equal(l.maybeAppend(1, 1, [ent(2, 1), ent(3, 2), ent(4, 2)]), 4);
  assert.deepEqual(terms(l), [1, 1, 2, 2]);
});

test('conflictHint: the first index of the conflicting term, or one past the end', () => {
  const l = log(1, 2, 2, 2, 3);
  assert.deepEqual(l.conflictHint(4), { index: 2, term: 2 });
  assert.deepEqual(l.conflictHint(9), { index: 6, term: 0 });
});

test('compact drops the prefix but keeps the term at the snapshot point', () => {
  const l = log(1, 1, 2, 3);
  l.commitTo(4);
  l.applied = 3;
  l.compact(3);
  assert.equal(l.firstIndex(), 4);
  assert.equal(l.term(3), 2);
  assert.equal(l.term(2), null);
  assert.deepEqual(l.snapshot, { index: 3, term: 2, confState: { voters: ['a'], learners: [] } });
  assert.throws(() => l.compact(4), /beyond applied/);
});

test('Ready contract: entry acknowledgements wait for the disk, heartbeat acknowledgements do not', () => {
  const b = new Solo('b', ['a', 'b', 'c']);
  b.node.step({ ...heartbeat('a', 'b', 1), entries: [ent(1, 1)] } as never, b.nowMs);
  const rd1 = b.node.ready(b.nowMs);
  assert.ok(rd1 && rd1.entries.length === 1 && rd1.mustSync);
  assert.ok(rd1.messages.every((o) => o.afterPersist));
  b.node.advance(rd1, b.nowMs);
  b.node.step(heartbeat('a', 'b', 1, { prevLogIndex: 1, prevLogTerm: 1, round: 2 }), b.nowMs);
  const rd2 = b.node.ready(b.nowMs);
  assert.ok(rd2 && rd2.entries.length === 0);
  assert.ok(rd2.messages.length === 1 && rd2.messages.every((o) => !o.afterPersist));
  b.node.advance(rd2, b.nowMs);
  assert.throws(() => b.node.advance(rd2, b.nowMs), /advance\(\) without a ready\(\)/);
});
