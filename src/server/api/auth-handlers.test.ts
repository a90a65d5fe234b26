// The Auth service's refusals that must come before any scrypt (session 9 audit): with auth off,
// anyone may call UserAdd, and each call used to hash its password on libuv's pool before the log
// refused it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthTable, type AuthChange } from '../../kv/auth.ts';
import { AuthRefusedError, type AuthBackend } from '../auth/backend.ts';
import { AuthGate } from '../auth/gate.ts';
import { FakeBackend } from './fake-backend.ts';
import { startApiServer, type ApiServer } from './server.ts';
import { post } from './test-util.ts';

const H = { salt: 'c2FsdA==', hash: 'aGFzaA==' };

/** An AuthBackend over one table: changes are applied at once, refused ones thrown as the node does. */
function tableBackend(t: AuthTable): AuthBackend & { changes: AuthChange[] } {
  const changes: AuthChange[] = [];
  return {
    changes,
    authTable: () => t,
    authChange: (c) => {
      changes.push(c);
      const err = t.apply(c);
      return err === undefined ? Promise.resolve({ index: changes.length }) : Promise.reject(new AuthRefusedError(err));
    },
  };
}

describe('Auth service with auth off, then on', () => {
  const table = new AuthTable();
  const authBackend = tableBackend(table);
  const gate = new AuthGate({
    table: () => table,
    required: false,
    tokenTtlMs: 60_000,
    authAttemptsPerSec: 20,
    authAttemptsPerSourcePerSec: 5,
  });
  let server: ApiServer;
  before(async () => {
    server = await startApiServer({ host: '127.0.0.1', port: 0, backend: new FakeBackend(), auth: gate, authBackend });
  });
  after(() => server.close());

  test('UserAdd and UserChangePassword are refused before hashing while auth is off', async () => {
    for (const m of ['UserAdd', 'UserChangePassword']) {
      const r = await post(server.port, `/leasekv.v1.Auth/${m}`, '{"name":"bob","password":"pw"}');
      assert.equal(r.status, 400, m);
      assert.deepEqual(JSON.parse(r.body), {
        code: 'invalid_argument',
        message: 'auth is not enabled (start a member with --auth)',
      });
    }
    // Nothing reached the log: no change proposed (each had cost a scrypt first).
    assert.deepEqual(authBackend.changes, []);
  });

  test('once auth is enabled, root adds users as before', async () => {
    table.apply({ kind: 'enable', root: H, signingKey: Buffer.alloc(32, 7).toString('base64') });
    const { token } = gate.issue('root');
    const r = await post(server.port, '/leasekv.v1.Auth/UserAdd', '{"name":"bob","password":"pw"}', {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(authBackend.changes.length, 1);
    assert.equal(table.user('bob')?.name, 'bob');
  });
});
