// The gate's checks (issue 15): tokens (signature, expiry, revocation by password change or deletion),
// and permissions on exact prefix boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code, ConnectError } from '@connectrpc/connect';
import { AuthTable } from '../../kv/auth.ts';
import { AuthGate, allowKey, allowPrefix, requireRoot, requireSomeWrite } from './gate.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { signToken } from './tokens.ts';

const H = { salt: 'c2FsdA==', hash: 'aGFzaA==' };

function setup(nowMs: () => number) {
  const t = new AuthTable();
  t.apply({ kind: 'enable', root: H, signingKey: Buffer.alloc(32, 7).toString('base64') });
  t.apply({ kind: 'role-add', name: 'ro' });
  t.apply({ kind: 'role-grant', name: 'ro', prefix: 'app/', access: 'read' });
  t.apply({ kind: 'role-add', name: 'rw' });
  t.apply({ kind: 'role-grant', name: 'rw', prefix: 'app/rw/', access: 'readwrite' });
  t.apply({ kind: 'user-add', name: 'alice', ...H });
  t.apply({ kind: 'user-grant', name: 'alice', role: 'ro' });
  t.apply({ kind: 'user-grant', name: 'alice', role: 'rw' });
  const gate = new AuthGate({ table: () => t, required: true, tokenTtlMs: 1000, nowMs });
  return { t, gate };
}

const code = (fn: () => unknown): Code | 'ok' => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return e.code;
  }
};

test('tokens: a valid one identifies; tampered, expired, revoked or missing ones are unauthenticated', () => {
  let now = 1_000_000;
  const { t, gate } = setup(() => now);
  const { token } = gate.issue('alice');
  assert.equal(gate.identify(`Bearer ${token}`, undefined)?.user, 'alice');
  assert.equal(
    code(() => gate.identify(`Bearer ${token.slice(0, -2)}xx`, undefined)),
    Code.Unauthenticated,
  );
  assert.equal(
    code(() => gate.identify(`Basic abc`, undefined)),
    Code.Unauthenticated,
  );
  assert.equal(
    code(() => gate.identify(undefined, undefined)),
    Code.Unauthenticated,
  );
  const other = signToken(Buffer.alloc(32, 8).toString('base64'), {
    user: 'root',
    generation: 1,
    expiresAtMs: now + 10,
  });
  assert.equal(
    code(() => gate.identify(`Bearer ${other}`, undefined)),
    Code.Unauthenticated,
    'another key',
  );
  now += 1000;
  assert.equal(
    code(() => gate.identify(`Bearer ${token}`, undefined)),
    Code.Unauthenticated,
    'expired',
  );
  const fresh = gate.issue('alice').token;
  t.apply({ kind: 'user-passwd', name: 'alice', ...H });
  assert.equal(
    code(() => gate.identify(`Bearer ${fresh}`, undefined)),
    Code.Unauthenticated,
    'password changed',
  );
  const again = gate.issue('alice').token;
  t.apply({ kind: 'user-delete', name: 'alice' });
  assert.equal(
    code(() => gate.identify(`Bearer ${again}`, undefined)),
    Code.Unauthenticated,
    'user deleted',
  );
});

test('a verified client certificate names an existing user; a token wins over it', () => {
  const { gate } = setup(() => 0);
  assert.equal(gate.identify(undefined, 'alice')?.user, 'alice');
  assert.equal(
    code(() => gate.identify(undefined, 'mallory')),
    Code.Unauthenticated,
  );
  assert.equal(gate.identify(`Bearer ${gate.issue('root').token}`, 'alice')?.user, 'root');
});

test('permissions: exact prefix boundaries, read vs read-write, root and admin', () => {
  const { gate } = setup(() => 0);
  const alice = gate.identify(`Bearer ${gate.issue('alice').token}`, undefined);
  const root = gate.identify(`Bearer ${gate.issue('root').token}`, undefined);
  assert.equal(
    code(() => allowKey(alice, 'app/x', false)),
    'ok',
  );
  assert.equal(
    code(() => allowKey(alice, 'app', false)),
    Code.PermissionDenied,
    '"app/" does not cover "app"',
  );
  assert.equal(
    code(() => allowKey(alice, 'app2/x', false)),
    Code.PermissionDenied,
  );
  assert.equal(
    code(() => allowKey(alice, 'App/x', false)),
    Code.PermissionDenied,
    'byte for byte',
  );
  assert.equal(
    code(() => allowKey(alice, 'app/x', true)),
    Code.PermissionDenied,
    'read is not write',
  );
  assert.equal(
    code(() => allowKey(alice, 'app/rw/x', true)),
    'ok',
  );
  assert.equal(
    code(() => allowPrefix(alice, 'app/', false)),
    'ok',
  );
  assert.equal(
    code(() => allowPrefix(alice, 'app/sub/', false)),
    'ok',
  );
  assert.equal(
    code(() => allowPrefix(alice, 'app', false)),
    Code.PermissionDenied,
    'would include app2/…',
  );
  assert.equal(
    code(() => allowPrefix(alice, '', false)),
    Code.PermissionDenied,
  );
  assert.equal(
    code(() => requireRoot(alice, 'compact')),
    Code.PermissionDenied,
  );
  assert.equal(
    code(() => requireSomeWrite(alice, 'grant')),
    'ok',
  );
  assert.equal(
    code(() => requireRoot(root, 'compact')),
    'ok',
  );
  assert.equal(
    code(() => allowPrefix(root, '', true)),
    'ok',
  );
  assert.equal(
    code(() => allowKey(null, 'x', true)),
    'ok',
    'auth off',
  );
});

test('auth off: nobody is asked; --auth before the root user exists: nobody gets in', () => {
  const t = new AuthTable();
  const off = new AuthGate({ table: () => t, required: false, tokenTtlMs: 1000 });
  assert.equal(off.identify(undefined, undefined), null);
  const on = new AuthGate({ table: () => t, required: true, tokenTtlMs: 1000 });
  assert.equal(
    code(() => on.identify(undefined, undefined)),
    Code.Unauthenticated,
  );
  t.apply({ kind: 'enable', root: H, signingKey: 'a2V5' });
  assert.equal(
    code(() => off.identify(undefined, undefined)),
    Code.Unauthenticated,
    'enabled: every member enforces',
  );
});

test('passwords: scrypt with a per-user salt', async () => {
  const a = await hashPassword('pw');
  const b = await hashPassword('pw');
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash);
  assert.equal(await verifyPassword('pw', a), true);
  assert.equal(await verifyPassword('pW', a), false);
});
