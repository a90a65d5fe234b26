// The same API through standard RPC clients: @grpc/grpc-js with the .proto (gRPC over h2c on the
// shared port) and the Connect client over HTTP/2 and HTTP/1.1.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { Consistency, KV, Role } from '../../gen/leasekv/v1/kv_pb.ts';
import type { FakeBackend } from './fake-backend.ts';
import type { ApiServer } from './server.ts';
import { fakeServer } from './test-util.ts';

const PROTO = fileURLToPath(new URL('../../../proto/leasekv/v1/kv.proto', import.meta.url));

type Unary = (req: object, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void;
function grpcClient(port: number): {
  call(method: string, req: object): Promise<Record<string, unknown>>;
  close(): void;
} {
  const def = protoLoader.loadSync(PROTO, { longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { leasekv: { v1: { KV: grpc.ServiceClientConstructor } } };
  const client = new pkg.leasekv.v1.KV(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    call: (method, req) =>
      new Promise((resolve, reject) => {
        const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
        fn(req, (err, res) => (err === null ? resolve(res) : reject(err)));
      }),
    close: () => client.close(),
  };
}

describe('gRPC and Connect clients on the shared port', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    ({ server, backend, port } = await fakeServer({ limits: { maxKeyBytes: 16 } }));
  });
  after(() => server.close());

  test('@grpc/grpc-js with the .proto: calls, errors, leader hint in trailers', async () => {
    const c = grpcClient(port);
    try {
      assert.equal((await c.call('Put', { key: 'g', value: '1' }))['index'], '1');
      const got = await c.call('Get', { key: 'g', consistency: 'LINEARIZABLE' });
      assert.equal(got['found'], true);
      assert.equal(got['value'], '1');
      assert.equal(got['readMode'], 'READ_MODE_LEASE');
      const st = await c.call('Status', {});
      assert.equal(st['role'], 'LEADER');
      await assert.rejects(
        c.call('Get', { key: '' }),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /key must not be empty/.test(e.details),
      );
      await assert.rejects(
        c.call('Put', { key: 'x'.repeat(17), value: '' }),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT,
      );
      backend.followerOf = { leaderId: 'n3', leaderClientAddr: '127.0.0.1:7003' };
      await assert.rejects(c.call('Put', { key: 'g', value: '2' }), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
        // Connect's grpc-message is respelled the spec's way (grpc-message.ts): grpc-js's decodeURI
        // would otherwise leave '%3B' and '%3A' in the details.
        assert.match(e.details, /^not leader; leader is n3 at 127\.0\.0\.1:7003/);
        assert.deepEqual(e.metadata.get('leasekv-leader'), ['n3']);
        assert.deepEqual(e.metadata.get('leasekv-leader-addr'), ['127.0.0.1:7003']);
        return true;
      });
    } finally {
      backend.followerOf = undefined;
      c.close();
    }
  });

  test('gRPC: an unknown method is UNIMPLEMENTED', async () => {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        client.makeUnaryRequest(
          '/leasekv.v1.KV/Nope',
          (x: Buffer) => x,
          (x: Buffer) => x,
          Buffer.alloc(0),
          (e) => resolve(e!),
        );
      });
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  for (const [name, transport] of [
    [
      'Connect over HTTP/2 (binary)',
      () => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '2' }),
    ],
    [
      'Connect over HTTP/1.1 (JSON)',
      () => createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '1.1', useBinaryFormat: false }),
    ],
    ['gRPC via Connect client', () => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` })],
  ] as const) {
    test(name, async () => {
      const kv = createClient(KV, transport());
      const put = await kv.put({ key: 'c', value: name });
      assert.ok(put.index > 0n);
      const got = await kv.get({ key: 'c', consistency: Consistency.STALE });
      assert.equal(got.value, name);
      const cas = await kv.compareAndSwap({ key: 'c', expected: 'other', value: 'z' });
      assert.equal(cas.swapped, false);
      assert.equal(cas.current, name);
      const st = await kv.status({});
      assert.equal(st.role, Role.LEADER);
      backend.followerOf = { leaderId: 'n2', leaderClientAddr: '127.0.0.1:7002' };
      try {
        await assert.rejects(kv.delete({ key: 'c' }), (e: unknown) => {
          const ce = ConnectError.from(e);
          assert.equal(ce.code, Code.FailedPrecondition);
          assert.equal(ce.metadata.get('leasekv-leader'), 'n2');
          assert.equal(ce.metadata.get('leasekv-leader-addr'), '127.0.0.1:7002');
          return true;
        });
      } finally {
        backend.followerOf = undefined;
      }
    });
  }
});
