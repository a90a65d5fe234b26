// Users and roles in the state machine (issue 15): the table's rules, the command encoding, and the
// auth state in snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthTable, type AuthChange } from './auth.ts';
import { decodeCommand, encodeCommand, CommandDecodeError } from './command.ts';
import { KvStateMachine } from './machine.ts';
import { EntryType } from '../raft/types.ts';

const H = { salt: 'c2FsdA==', hash: 'aGFzaA==' };
const ENABLE: AuthChange = { kind: 'enable', root: H, signingKey: 'a2V5' };

function table(...changes: AuthChange[]): { t: AuthTable; refused: (string | undefined)[] } {
  const t = new AuthTable();
  return { t, refused: changes.map((c) => t.apply(c)) };
}

test('nothing but enable is accepted before auth is enabled; enable once', () => {
  const { t, refused } = table({ kind: 'role-add', name: 'r' }, ENABLE, ENABLE);
  assert.match(refused[0] ?? '', /not enabled/);
  assert.equal(refused[1], undefined);
  assert.match(refused[2] ?? '', /already enabled/);
  assert.deepEqual(t.user('root')?.roles, ['root']);
  assert.equal(t.enabled, true);
});

test('users, roles and permissions: the rules', () => {
  const { t, refused } = table(
    ENABLE,
    { kind: 'role-add', name: 'ro' },
    { kind: 'role-grant', name: 'ro', prefix: 'app/', access: 'read' },
    { kind: 'role-grant', name: 'ro', prefix: 'app/', access: 'readwrite' },
    { kind: 'user-add', name: 'alice', ...H },
    { kind: 'user-add', name: 'alice', ...H },
    { kind: 'user-grant', name: 'alice', role: 'ro' },
    { kind: 'user-grant', name: 'alice', role: 'nope' },
    { kind: 'user-delete', name: 'root' },
    { kind: 'user-revoke', name: 'root', role: 'root' },
    { kind: 'role-grant', name: 'root', prefix: '', access: 'read' },
    { kind: 'role-delete', name: 'root' },
    { kind: 'user-passwd', name: 'alice', ...H },
    { kind: 'user-add', name: 'bad:name', ...H },
  );
  assert.deepEqual(
    refused.map((r) => (r === undefined ? 'ok' : r)),
    [
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'user alice already exists',
      'ok',
      'no such role: nope',
      'the root user cannot be deleted',
      'the root user keeps the root role',
      'the root role is built in and cannot be changed',
      'the root role is built in and cannot be changed',
      'ok',
      "user name must not contain spaces, control characters or ':'",
    ],
  );
  assert.deepEqual(t.role('ro'), [{ prefix: 'app/', access: 'readwrite' }], 'a grant on the same prefix replaces');
  assert.equal(t.user('alice')?.generation, 2, 'a password change bumps the generation');
  assert.equal(t.apply({ kind: 'role-delete', name: 'ro' }), undefined);
  assert.deepEqual(t.user('alice')?.roles, [], 'deleting a role takes it from its users');
});

test('auth commands encode and decode; a bad one is a decode error', () => {
  const cmds: AuthChange[] = [
    ENABLE,
    { kind: 'user-add', name: 'u', ...H },
    { kind: 'role-grant', name: 'r', prefix: 'p/', access: 'readwrite' },
    { kind: 'role-revoke', name: 'r', prefix: '' },
    { kind: 'user-revoke', name: 'u', role: 'r' },
  ];
  for (const change of cmds)
    assert.deepEqual(decodeCommand(encodeCommand({ op: 'auth', change })), { op: 'auth', change });
  const bytes = encodeCommand({ op: 'auth', change: { kind: 'role-add', name: 'r' } });
  const text = Buffer.from(bytes).toString('latin1').replace('role-add', 'role-xxx');
  assert.throws(() => decodeCommand(Buffer.from(text, 'latin1')), CommandDecodeError);
});

test('the auth state is replicated by apply and survives a snapshot and restore', () => {
  const m = new KvStateMachine();
  const changes: AuthChange[] = [
    ENABLE,
    { kind: 'role-add', name: 'ro' },
    { kind: 'role-grant', name: 'ro', prefix: 'a/', access: 'read' },
    { kind: 'user-add', name: 'alice', ...H },
    { kind: 'user-grant', name: 'alice', role: 'ro' },
    { kind: 'user-add', name: 'alice', ...H },
  ];
  const results = changes.map((change, i) =>
    m.apply({ index: i + 1, term: 1, type: EntryType.Normal, data: encodeCommand({ op: 'auth', change }) }),
  );
  assert.deepEqual(results.at(-1), { op: 'auth', refused: 'user alice already exists', revision: 0 });
  const copy = KvStateMachine.restore(m.snapshot());
  assert.equal(copy.auth.enabled, true);
  assert.equal(copy.auth.signingKey, 'a2V5');
  assert.deepEqual(copy.auth.user('alice'), m.auth.user('alice'));
  assert.deepEqual(copy.auth.roleList(), m.auth.roleList());
  assert.deepEqual(copy.snapshot(), m.snapshot(), 'equal states, equal bytes');
  const off = KvStateMachine.restore(new KvStateMachine().snapshot());
  assert.equal(off.auth.enabled, false);
});
