// The client library's txn() against an API server over a fake backend (issue 14).
// (Under cli/ because only cli may import both client/ and server/.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LeasekvClient } from '../client/index.ts';
import type { FakeBackend } from '../server/api/fake-backend.ts';
import type { ApiServer } from '../server/api/server.ts';
import { fakeServer } from '../server/api/test-util.ts';

describe('LeasekvClient.txn', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    ({ server, backend, port } = await fakeServer());
  });
  after(() => server.close());

  test('the client library: txn() with sessions, keys filled in for gets', async () => {
    const client = new LeasekvClient({ endpoints: [`127.0.0.1:${port}`] });
    try {
      const put = await client.put('cfg/a', '1');
      const res = await client.txn({
        compare: [
          { key: 'cfg/a', target: 'modRevision', result: '=', value: put.revision },
          { key: 'cfg/a', target: 'value', result: '=', value: '1' },
        ],
        success: [
          { op: 'put', key: 'cfg/a', value: '2' },
          { op: 'put', key: 'cfg/b', value: '2' },
          { op: 'get', key: 'cfg/a' },
        ],
      });
      assert.equal(res.succeeded, true);
      assert.equal(res.revision, put.revision + 1);
      assert.deepEqual(res.responses[2], {
        op: 'get',
        found: true,
        kv: { key: 'cfg/a', value: '2', createRevision: put.revision, modRevision: put.revision + 1, version: 2 },
      });
      const again = await client.txn({
        compare: [{ key: 'cfg/a', target: 'modRevision', result: '=', value: put.revision }],
        failure: [{ op: 'range', prefix: 'cfg/' }],
      });
      assert.equal(again.succeeded, false);
      assert.deepEqual(again.responses[0]?.op === 'range' && again.responses[0].kvs.map((kv) => kv.key), [
        'cfg/a',
        'cfg/b',
      ]);
      const last = backend.calls.at(-1)?.req as { session?: { clientId: string } };
      assert.ok(last.session !== undefined, 'the client sends a session with each txn');
      await assert.rejects(
        client.txn({ compare: [{ key: 'k', target: 'version', result: '=', value: -1 }] }),
        /version must be an integer >= 0/,
      );
    } finally {
      await client.close();
    }
  });
});
