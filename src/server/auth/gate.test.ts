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
const LIMITS = { authAttemptsPerSec: 20, authAttemptsPerSourcePerSec: 5 };
/** A request's connection without a client certificate, and one with a verified certificate for `user`. */
const NONE = { remote: '127.0.0.1', clientCert: null, clientCertError: null };
const cert = (user: string) => ({ ...NONE, clientCert: { commonName: user } });

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
  const gate = new AuthGate({ table: () => t, required: true, tokenTtlMs: 1000, nowMs, ...LIMITS });
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
  assert.equal(gate.identify(`Bearer ${token}`, NONE)?.user, 'alice');
  assert.equal(
    code(() => gate.identify(`Bearer ${token.slice(0, -2)}xx`, NONE)),
    Code.Unauthenticated,
  );
  assert.equal(
    code(() => gate.identify(`Basic abc`, NONE)),
    Code.Unauthenticated,
  );
  assert.equal(
    code(() => gate.identify(undefined, NONE)),
    Code.Unauthenticated,
  );
  const other = signToken(Buffer.alloc(32, 8).toString('base64'), {
    user: 'root',
    generation: 1,
    credential: '',
    expiresAtMs: now + 10,
  });
  assert.equal(
    code(() => gate.identify(`Bearer ${other}`, NONE)),
    Code.Unauthenticated,
    'another key',
  );
  now += 1000;
  assert.equal(
    code(() => gate.identify(`Bearer ${token}`, NONE)),
    Code.Unauthenticated,
    'expired',
  );
  const fresh = gate.issue('alice').token;
  t.apply({ kind: 'user-passwd', name: 'alice', ...H });
  assert.equal(
    code(() => gate.identify(`Bearer ${fresh}`, NONE)),
    Code.Unauthenticated,
    'password changed',
  );
  const again = gate.issue('alice').token;
  t.apply({ kind: 'user-delete', name: 'alice' });
  assert.equal(
    code(() => gate.identify(`Bearer ${again}`, NONE)),
    Code.Unauthenticated,
    'user deleted',
  );
  // A user deleted and created again under the same name (its own salt, generation 1 again): the
  // deleted user's token must not come back to life (it did before the session 11 audit).
  t.apply({ kind: 'user-add', name: 'bob', ...H });
  const bobs = gate.issue('bob').token;
  t.apply({ kind: 'user-delete', name: 'bob' });
  t.apply({ kind: 'user-add', name: 'bob', salt: 'b3RoZXI=', hash: H.hash });
  assert.equal(t.user('bob')?.generation, 1);
  const message = (() => {
    try {
      gate.identify(`Bearer ${bobs}`, NONE);
      return 'accepted';
    } catch (e) {
      return (e as ConnectError).rawMessage;
    }
  })();
  assert.match(message, /token revoked: user bob was deleted and created again/);
  assert.equal(gate.identify(`Bearer ${gate.issue('bob').token}`, NONE)?.user, 'bob');
});

test('a verified client certificate names an existing user; a token wins over it', () => {
  const { gate } = setup(() => 0);
  assert.equal(gate.identify(undefined, cert('alice'))?.user, 'alice');
  assert.equal(
    code(() => gate.identify(undefined, cert('mallory'))),
    Code.Unauthenticated,
  );
  assert.equal(gate.identify(`Bearer ${gate.issue('root').token}`, cert('alice'))?.user, 'root');
});

test('permissions: exact prefix boundaries, read vs read-write, root and admin', () => {
  const { gate } = setup(() => 0);
  const alice = gate.identify(`Bearer ${gate.issue('alice').token}`, NONE);
  const root = gate.identify(`Bearer ${gate.issue('root').token}`, NONE);
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
  const off = new AuthGate({ table: () => t, required: false, tokenTtlMs: 1000, ...LIMITS });
  assert.equal(off.identify(undefined, NONE), null);
  assert.equal(off.isOff(), true);
  const on = new AuthGate({ table: () => t, required: true, tokenTtlMs: 1000, ...LIMITS });
  assert.equal(
    code(() => on.identify(undefined, NONE)),
    Code.Unauthenticated,
  );
  assert.equal(on.isOff(), false, 'required: never off');
  t.apply({ kind: 'enable', root: H, signingKey: 'a2V5' });
  assert.equal(off.isOff(), false, 'enabled in the table: not off');
  assert.equal(
    code(() => off.identify(undefined, NONE)),
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

test('refusals are logged one line per source (unauthenticated) or user (permission_denied) per minute', () => {
  let mono = 0;
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const logger = { warn: (obj: object, msg = '') => lines.push({ obj: obj as Record<string, unknown>, msg }) };
  const t = setup(() => 0).t;
  const gate = new AuthGate({
    table: () => t,
    required: true,
    tokenTtlMs: 1000,
    nowMs: () => 0,
    monoNowMs: () => mono,
    logger,
    ...LIMITS,
  });
  for (let i = 0; i < 50; i++) code(() => gate.identify('Bearer lkv1.wrong.token', NONE));
  code(() => gate.identify(undefined, { ...NONE, remote: '10.0.0.9' }));
  const alice = gate.identify(`Bearer ${gate.issue('alice').token}`, NONE);
  for (let i = 0; i < 20; i++)
    assert.equal(
      code(() => allowKey(alice, 'secret/x', false)),
      Code.PermissionDenied,
    );
  assert.deepEqual(
    lines.map((l) => [l.msg, l.obj['remote'] ?? l.obj['user']]),
    [
      ['unauthenticated request refused', '127.0.0.1'],
      ['unauthenticated request refused', '10.0.0.9'],
      ['request refused: permission denied', 'alice'],
    ],
  );
  assert.match(String(lines[0]?.obj['reason']), /invalid token/);
  assert.match(String(lines[2]?.obj['reason']), /user alice has no read permission on key "secret\/x"/);
  mono = 61_000;
  code(() => gate.identify('Bearer lkv1.wrong.token', NONE));
  assert.equal(lines.at(-1)?.msg, 'unauthenticated request refused (49 more in the last 61 s)');
  assert.equal(lines.at(-1)?.obj['heldBack'], 49);
});

test('a client certificate that did not verify is named in the refusal', () => {
  const { gate } = setup(() => 0);
  try {
    gate.identify(undefined, { ...NONE, clientCertError: 'it expired on Jan  1 00:00:00 2026 GMT (CERT_HAS_EXPIRED)' });
    assert.fail('not refused');
  } catch (e) {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.Unauthenticated);
    assert.match(
      e.rawMessage,
      /client certificate presented was not accepted: it expired on Jan {2}1 00:00:00 2026 GMT \(CERT_HAS_EXPIRED\); use one signed by/,
    );
  }
});

test('Authenticate attempts: at most so many per second per source and on the node; resource_exhausted past them', () => {
  let mono = 0;
  const t = setup(() => 0).t;
  const lines: string[] = [];
  const gate = new AuthGate({
    table: () => t,
    required: true,
    tokenTtlMs: 1000,
    monoNowMs: () => mono,
    logger: { warn: (_o, msg = '') => lines.push(msg) },
    authAttemptsPerSec: 8,
    authAttemptsPerSourcePerSec: 3,
  });
  const tryFrom = (remote: string): Code | 'ok' => code(() => gate.admitAttempt(remote));
  assert.deepEqual(['a', 'a', 'a', 'a', 'a'].map(tryFrom), [
    'ok',
    'ok',
    'ok',
    Code.ResourceExhausted,
    Code.ResourceExhausted,
  ]);
  assert.deepEqual(
    ['b', 'b', 'b', 'c', 'c', 'c', 'd'].map(tryFrom),
    ['ok', 'ok', 'ok', 'ok', 'ok', Code.ResourceExhausted, Code.ResourceExhausted],
    'eight on the node in all',
  );
  try {
    gate.admitAttempt('a');
  } catch (e) {
    assert.match((e as ConnectError).rawMessage, /too many Authenticate attempts from a: at most 3 per second/);
  }
  assert.deepEqual(lines, [
    'Authenticate refused: over the attempt rate limit',
    'Authenticate refused: over the attempt rate limit',
    'Authenticate refused: over the attempt rate limit',
  ]);
  mono = 1000;
  assert.equal(tryFrom('a'), 'ok', 'a new second');
});
