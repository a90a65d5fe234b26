// step() never throws on bad remote input: malformed messages are dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TestCluster } from './testkit.ts';
import { isValidMessage } from './validate.ts';
import type { Message } from './types.ts';

const members = ['a', 'b', 'c'];

test('well-formed messages pass validation; each corrupted field is caught', () => {
  const good: Message = {
    type: 'app',
    from: 'a',
    to: 'b',
    term: 2,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [{ index: 1, term: 2, type: 0, data: new Uint8Array(1) }],
    commit: 0,
    leaseDurationMs: 900,
    round: 1,
  };
  assert.equal(isValidMessage(good, 'b'), true);
  const bad: Record<string, unknown>[] = [
    { from: '' },
    { from: 7 },
    { from: 'b' },
    { to: 'c' },
    { term: -1 },
    { term: 1.5 },
    { leaseDurationMs: Number.NaN },
    { leaseDurationMs: -1 },
    { round: 'x' },
    { entries: [{ index: 3, term: 2, type: 0, data: new Uint8Array(0) }] },
    { entries: [{ index: 1, term: 9, type: 0, data: new Uint8Array(0) }] },
    { entries: [{ index: 1, term: 2, type: 7, data: new Uint8Array(0) }] },
    { entries: 'no' },
    { prevLogTerm: 5 },
    { type: 'nope' },
  ];
  for (const over of bad) assert.equal(isValidMessage({ ...good, ...over }, 'b'), false, JSON.stringify(over));
});

test('fuzz: arbitrary junk stepped into every role never throws and never breaks the cluster', () => {
  const junk = fc.oneof(
    fc.anything(),
    fc.record({
      type: fc.constantFrom('vote', 'voteResp', 'app', 'appResp', 'snap', 'timeoutNow'),
      from: fc.constantFrom('a', 'b', 'c', 'z'),
      to: fc.constantFrom('a', 'b', 'c'),
      term: fc.oneof(fc.integer({ min: -2, max: 9 }), fc.double()),
      preVote: fc.boolean(),
      transfer: fc.boolean(),
      granted: fc.boolean(),
      success: fc.boolean(),
      lastLogIndex: fc.integer({ min: 0, max: 9 }),
      lastLogTerm: fc.integer({ min: 0, max: 9 }),
      prevLogIndex: fc.integer({ min: 0, max: 9 }),
      prevLogTerm: fc.integer({ min: 0, max: 9 }),
      commit: fc.integer({ min: 0, max: 20 }),
      leaseDurationMs: fc.oneof(fc.nat(2000), fc.double()),
      round: fc.integer({ min: 0, max: 50 }),
      matchIndex: fc.integer({ min: 0, max: 20 }),
      oldLeaseRemainingMs: fc.double(),
      entries: fc.constant([]),
      rejectHint: fc.option(fc.record({ index: fc.nat(9), term: fc.nat(9) })),
      snapshot: fc.record({
        index: fc.nat(9),
        term: fc.nat(9),
        confState: fc.constant({ voters: members, learners: [] }),
      }),
    }),
  );
  fc.assert(
    fc.property(fc.array(junk, { maxLength: 30 }), (msgs) => {
      const c = new TestCluster(members);
      c.electFirst();
      for (const m of msgs) {
        for (const id of members) {
          const t = c.get(id);
          t.node.step(m as Message, t.nowMs);
        }
        c.run(20);
      }
      c.run(3000, 20);
      return c.leaders().length >= 1;
    }),
    { numRuns: 30, seed: 42 },
  );
});
