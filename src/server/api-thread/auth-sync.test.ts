// The API thread's copy of the node's auth table (issue 15): once the node tells of a change
// (onAuthChange, which a member calls as it applies one), the change is in force for the API
// thread's next request, with no answer in between to carry it and no 20 ms poll (session 9).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthTable } from '../../kv/auth.ts';
import { FakeBackend } from '../api/fake-backend.ts';
import { post } from '../api/test-util.ts';
import { startApiThread } from './host.ts';

const H = { salt: 'c2FsdA==', hash: 'aGFzaA==' };

test('a change told by onAuthChange is in force for the next request on the API thread', async () => {
  let table = new AuthTable();
  const listeners = new Set<() => void>();
  const api = await startApiThread({
    host: '127.0.0.1',
    port: 0,
    backend: new FakeBackend(),
    authBackend: { authTable: () => table, authChange: () => Promise.reject(new Error('not in this test')) },
    authConfig: { required: false, tokenTtlMs: 60_000, authAttemptsPerSec: 20, authAttemptsPerSourcePerSec: 5 },
    onAuthChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  });
  try {
    const open = await post(api.port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'a', value: '1' }));
    assert.equal(open.status, 200, `auth not enabled yet: ${open.body}`);
    const enabled = new AuthTable();
    enabled.apply({ kind: 'enable', root: H, signingKey: Buffer.alloc(32, 7).toString('base64') });
    table = enabled;
    assert.equal(listeners.size, 1);
    for (const l of listeners) l();
    // The backstop check runs once a second: this request almost always comes before it (and with
    // the 20 ms poll that onAuthChange replaced, often before that).
    const denied = await post(api.port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'a' }));
    assert.equal(denied.status, 401, denied.body);
    assert.match(denied.body, /"code":"unauthenticated"/);
  } finally {
    await api.close();
  }
  assert.equal(listeners.size, 0, 'close unsubscribes');
});
