// framing.ts with auth on answers like node:http: the caller is identified by the same gate call
// (good, bad, missing, expired tokens; roles without the permission), and the gates log alike.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthTable } from '../../kv/auth.ts';
import { AuthGate } from '../auth/gate.ts';
import { signToken } from '../auth/tokens.ts';
import { FakeBackend } from './fake-backend.ts';
import { startApiServer } from './server.ts';
import { cases, exchange, get, Pair, PLAIN, put, type Case } from './test-framing.ts';

describe('HTTP/1.1 framing with auth on answers like node:http', () => {
  const SIGNING = Buffer.alloc(32, 7).toString('base64');
  const H = { salt: 'c2FsdA==', hash: 'aGFzaA==' };
  const table = new AuthTable();
  table.apply({ kind: 'enable', root: H, signingKey: SIGNING });
  table.apply({ kind: 'role-add', name: 'ro' });
  table.apply({ kind: 'role-grant', name: 'ro', prefix: 'app/', access: 'read' });
  table.apply({ kind: 'role-add', name: 'rw' });
  table.apply({ kind: 'role-grant', name: 'rw', prefix: 'app/rw/', access: 'readwrite' });
  table.apply({ kind: 'user-add', name: 'alice', ...H });
  table.apply({ kind: 'user-grant', name: 'alice', role: 'ro' });
  table.apply({ kind: 'user-grant', name: 'alice', role: 'rw' });
  const nowMs = 1_800_000_000_000;
  const gateOf = (log: (line: string) => void): AuthGate =>
    new AuthGate({
      table: () => table,
      required: true,
      tokenTtlMs: 60_000,
      authAttemptsPerSec: 20,
      authAttemptsPerSourcePerSec: 5,
      nowMs: () => nowMs,
      logger: { warn: (obj, msg) => log(`${msg ?? ''} ${JSON.stringify(obj)}`) },
    });
  const pair = new Pair({}, {}, gateOf);
  const issuer = gateOf(() => undefined);
  const root = issuer.issue('root').token;
  const alice = issuer.issue('alice').token;
  const expired = signToken(SIGNING, {
    user: 'alice',
    generation: 1,
    credential: 'x',
    expiresAtMs: nowMs - 1,
  });
  const ghost = signToken(SIGNING, { user: 'carol', generation: 1, credential: 'x', expiresAtMs: nowMs + 1000 });
  const bearer = (t: string): string => `authorization: Bearer ${t}\r\n`;
  const AUTH: readonly Case[] = [
    ['root: put', { chunks: [put('{"key":"k","value":"v"}', bearer(root))] }, 1],
    ['root: get', { chunks: [get('{"key":"k"}', bearer(root))] }, 1],
    ['alice: get in her read prefix', { chunks: [get('{"key":"app/x"}', bearer(alice))] }, 1],
    ['alice: put in her read prefix (denied)', { chunks: [put('{"key":"app/x","value":"v"}', bearer(alice))] }, 1],
    ['alice: put in her read-write prefix', { chunks: [put('{"key":"app/rw/x","value":"v"}', bearer(alice))] }, 1],
    ['alice: get outside her prefixes (denied)', { chunks: [get('{"key":"other"}', bearer(alice))] }, 1],
    ['alice: stale get outside (denied)', { chunks: [get('{"key":"ap","consistency":"STALE"}', bearer(alice))] }, 1],
    ['no token', { chunks: [get('{"key":"k"}'), put('{"key":"k","value":"v"}')], stepwise: true }, 2],
    ['expired token', { chunks: [get('{"key":"app/x"}', bearer(expired))] }, 1],
    ['token of a user who does not exist', { chunks: [get('{"key":"k"}', bearer(ghost))] }, 1],
    ['tampered token', { chunks: [put('{"key":"k","value":"v"}', bearer(`${root.slice(0, -2)}xx`))] }, 1],
    ['not a token', { chunks: [get('{"key":"k"}', bearer('hello'))] }, 1],
    ['Basic credentials', { chunks: [get('{"key":"k"}', 'authorization: Basic YTpi\r\n')] }, 1],
    ['lower-case bearer, two spaces', { chunks: [get('{"key":"k"}', `authorization: bearer  ${root}\r\n`)] }, 1],
    ['upper-case header name', { chunks: [get('{"key":"k"}', `AUTHORIZATION: Bearer ${root}\r\n`)] }, 1],
    ['token with a trailing space', { chunks: [get('{"key":"k"}', `authorization: Bearer ${root} \r\n`)] }, 0],
    ['empty authorization', { chunks: [get('{"key":"k"}', 'authorization: \r\n')] }, 0],
    ['two authorization headers', { chunks: [get('{"key":"k"}', bearer(root) + bearer(alice))] }, 0],
    ['bad token, bad body', { chunks: [get('{"key":', bearer('hello'))] }, 0],
    ['bad token, no key', { chunks: [get('{}', bearer('hello'))] }, 0],
    ['good token, empty key', { chunks: [get('{"key":""}', bearer(root))] }, 0],
    [
      'good, bad, good on one connection',
      {
        chunks: [get('{"key":"k"}', bearer(root)), get('{"key":"k"}', bearer('x')), get('{"key":"k"}', bearer(root))],
        stepwise: true,
      },
      3,
    ],
    [
      'a token per request, pipelined',
      { chunks: [get('{"key":"k"}', bearer(root)) + put('{"key":"app/x","value":"v"}', bearer(alice))] },
      0,
    ],
  ];
  before(() => pair.start());
  after(() => pair.close());
  cases(pair, AUTH);
  test('the refusals were logged, alike on both sides', () => {
    assert.ok(pair.logged.on.some((l) => l.includes('token expired')));
    assert.ok(pair.logged.on.some((l) => l.includes('has no read-write permission on key')));
  });
});

test('with an auth gate, turning auth on takes effect on a framed connection at once', async () => {
  const table = new AuthTable();
  const auth = new AuthGate({
    table: () => table,
    required: false,
    tokenTtlMs: 1000,
    authAttemptsPerSec: 20,
    authAttemptsPerSourcePerSec: 5,
  });
  const server = await startApiServer({ host: '127.0.0.1', port: 0, backend: new FakeBackend(), auth });
  try {
    const off = await exchange(server.port, { chunks: [PLAIN] });
    assert.match(off, /^HTTP\/1\.1 200 OK/);
    assert.equal(server.fastPath?.framed, 1);
    table.apply({ kind: 'enable', root: { salt: 'c2FsdA==', hash: 'aGFzaA==' }, signingKey: 'a2V5' });
    const on = await exchange(server.port, { chunks: [PLAIN] });
    assert.match(on, /^HTTP\/1\.1 401 Unauthorized/);
    assert.equal(server.fastPath?.framed, 2, 'refused by the gate, framed');
  } finally {
    await server.close();
  }
});
