// Txn through the API (issue 14): plain JSON (curl's view) and gRPC (the client library's txn():
// src/cli/client-txn.test.ts); bad
// transactions refused with clear messages. The state machine's own semantics are tested in
// src/kv/revision.test.ts; this is the wire.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { Compare_CompareResult, Compare_CompareTarget, KV } from '../../gen/leasekv/v1/kv_pb.ts';
import type { FakeBackend } from './fake-backend.ts';
import type { ApiServer } from './server.ts';
import { fakeServer, post } from './test-util.ts';

describe('Txn over the API', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    ({ server, backend, port } = await fakeServer({
      limits: { maxKeyBytes: 16, maxRangeLimit: 5, defaultRangeLimit: 2 },
    }));
  });
  after(() => server.close());

  const call = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await post(port, '/leasekv.v1.KV/Txn', JSON.stringify(body));
    return { status: r.status, json: JSON.parse(r.body) as Record<string, unknown> };
  };

  test('JSON: compare, success, failure, and the answers of each operation', async () => {
    // {"key":"lock"} compares VERSION EQUAL 0: the key does not exist.
    const first = await call({
      compare: [{ key: 'lock' }],
      success: [{ requestPut: { key: 'lock', value: 'me' } }, { requestGet: { key: 'lock' } }],
      failure: [],
    });
    assert.deepEqual(first.json, {
      succeeded: true,
      responses: [
        { responsePut: { index: '1', revision: '1' } },
        {
          responseGet: {
            found: true,
            value: 'me',
            index: '1',
            readMode: 'READ_MODE_UNSPECIFIED',
            staleByMs: 0,
            revision: '1',
            createRevision: '1',
            modRevision: '1',
            version: '1',
          },
        },
      ],
      index: '1',
      revision: '1',
    });
    const second = await call({
      compare: [{ key: 'lock' }],
      success: [{ requestPut: { key: 'lock', value: 'you' } }],
      failure: [{ requestRange: { prefix: 'l' } }, { requestDelete: { key: 'nothing' } }],
    });
    assert.equal(second.json['succeeded'], false);
    assert.deepEqual(second.json['responses'], [
      {
        responseRange: {
          kvs: [{ key: 'lock', value: 'me', createRevision: '1', modRevision: '1', version: '1' }],
          more: false,
          index: '2',
          revision: '1',
        },
      },
      { responseDelete: { deleted: false, index: '2', revision: '1' } },
    ]);
    assert.equal(backend.data.get('lock'), 'me');
  });

  test('gRPC: the same method through a standard gRPC transport', async () => {
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const res = await grpc.txn({
      compare: [
        {
          key: 'g',
          target: Compare_CompareTarget.VERSION,
          result: Compare_CompareResult.EQUAL,
          targetUnion: { case: 'version', value: 0n },
        },
      ],
      success: [{ request: { case: 'requestPut', value: { key: 'g', value: 'v' } } }],
    });
    assert.equal(res.succeeded, true);
    assert.equal(res.responses[0]?.response.case, 'responsePut');
  });

  test('bad transactions: invalid_argument with a message that says what is wrong', async () => {
    const bad = async (body: unknown, msg: RegExp): Promise<void> => {
      const r = await call(body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json['code'], 'invalid_argument');
      assert.match(String(r.json['message']), msg);
    };
    await bad({ compare: [{ key: 'k', target: 'VALUE' }] }, /compare\[0\]: target VALUE needs "value"/);
    await bad(
      { compare: [{ key: 'k', target: 'MOD', version: '3' }] },
      /target MOD compares "modRevision", not "version"/,
    );
    await bad({ compare: [{ key: '' }] }, /compare\[0\]\.key must not be empty/);
    await bad({ success: [{}] }, /success\[0\] holds no operation/);
    await bad(
      { success: [{ requestPut: { key: 'a', value: '1' } }, { requestDelete: { key: 'a' } }] },
      /writes key "a" more than once/,
    );
    await bad({ failure: [{ requestPut: { key: 'a', value: '1', clientId: 'c', seq: 1 } }] }, /carries no client_id/);
    await bad({ success: [{ requestGet: { key: 'a', consistency: 'STALE' } }] }, /leave out consistency/);
    await bad({ success: [{ requestRange: { prefix: '', limit: 6 } }] }, /limit 6 is above the maximum of 5/);
    await bad(
      { success: [{ requestRange: { prefix: 'a', limit: 3 } }, { requestRange: { prefix: 'b', limit: 3 } }] },
      /ask for 6 keys in all; the limit is 5/,
    );
    await bad(
      { success: Array.from({ length: 129 }, (_, i) => ({ requestGet: { key: `k${i}` } })) },
      /129 operations; the limit is 128/,
    );
    await bad({ compare: [{ key: 'k', result: 'SAME' }] }, /CompareResult|SAME/);
    await bad({ success: [{ requestPut: { key: 'k'.repeat(17), value: '' } }] }, /success\[0\]\.key is 17 bytes/);
  });
});
