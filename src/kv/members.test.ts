// The membership table: applied from ConfChange entries, kept in the kv snapshot (version 2), and a
// version-1 snapshot (before membership) still restores, with an empty table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeConfChange } from '../raft/confchange.ts';
import { EntryType } from '../raft/types.ts';
import type { ConfChange, ConfState } from '../raft/types.ts';
import { KvStateMachine } from './machine.ts';
import { decodeMemberContext, encodeMemberContext, MembershipTable } from './members.ts';
import { encodeCommand } from './command.ts';

const ctx = { peerAddr: '10.0.0.4:7101', clientAddr: '10.0.0.4:7001', incarnation: 'abcd', autoPromote: true };

function confEntry(index: number, cc: ConfChange, cs: ConfState) {
  return { index, term: 1, type: EntryType.ConfChange, data: encodeConfChange(cc, cs) };
}

test('add, promote and remove change the table; a removed id is remembered', () => {
  const t = new MembershipTable();
  t.apply(5, { kind: 'add-learner', id: 'n4', context: encodeMemberContext(ctx) });
  assert.deepEqual(t.get('n4'), { id: 'n4', addedAt: 5, ...ctx });
  t.apply(6, { kind: 'promote', id: 'n4', context: new Uint8Array(0) });
  assert.equal(t.get('n4')?.autoPromote, false, 'promoted: nothing left to promote');
  t.apply(7, { kind: 'remove', id: 'n4', context: new Uint8Array(0) });
  assert.equal(t.get('n4'), undefined);
  assert.deepEqual(t.removed(), ['n4']);
  assert.equal(decodeMemberContext(new TextEncoder().encode('not json')), null);
});

test('the table travels in the kv snapshot and comes back on restore', () => {
  const kv = new KvStateMachine();
  kv.apply({ index: 1, term: 1, type: EntryType.Normal, data: encodeCommand({ op: 'put', key: 'k', value: 'v' }) });
  kv.apply(
    confEntry(
      2,
      { kind: 'add-learner', id: 'n4', context: encodeMemberContext(ctx) },
      { voters: ['n1', 'n2', 'n3'], learners: ['n4'] },
    ),
  );
  kv.apply(
    confEntry(
      3,
      { kind: 'remove', id: 'n3', context: new Uint8Array(0) },
      { voters: ['n1', 'n2'], learners: ['n4'], removed: ['n3'] },
    ),
  );
  const copy = KvStateMachine.restore(kv.snapshot());
  assert.equal(copy.get('k'), 'v');
  assert.deepEqual(copy.members.get('n4'), { id: 'n4', addedAt: 2, ...ctx });
  assert.deepEqual(copy.members.removed(), ['n3']);
  assert.equal(copy.appliedIndex, 3);
});
