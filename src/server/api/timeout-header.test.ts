// Client deadlines beyond what a timer holds (session 9 audit): they used to fire after 1 ms.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { clampTimeoutHeaders, MAX_TIMER_MS } from './timeout-header.ts';
import type { ApiServer } from './server.ts';
import { fakeServer, post } from './test-util.ts';

const PROTO = fileURLToPath(new URL('../../../proto/leasekv/v1/kv.proto', import.meta.url));

test('clampTimeoutHeaders: only well-formed values above the timer limit change', () => {
  const cases: [string, string, string][] = [
    ['connect-timeout-ms', '9999999999', String(MAX_TIMER_MS)],
    ['connect-timeout-ms', String(MAX_TIMER_MS + 1), String(MAX_TIMER_MS)],
    ['connect-timeout-ms', String(MAX_TIMER_MS), String(MAX_TIMER_MS)],
    ['connect-timeout-ms', '5000', '5000'],
    ['connect-timeout-ms', '99999999999', '99999999999'], // 11 digits: Connect refuses it (invalid_argument)
    ['connect-timeout-ms', 'soon', 'soon'],
    ['grpc-timeout', '99999999H', '2147483S'],
    ['grpc-timeout', '2592000S', '2147483S'], // 30 days
    ['grpc-timeout', '2147483S', '2147483S'],
    ['grpc-timeout', '596H', '596H'], // 2,145,600,000 ms: fits
    ['grpc-timeout', '99999999n', '99999999n'],
    ['grpc-timeout', '5X', '5X'],
  ];
  for (const [name, value, want] of cases) {
    const h = new Headers({ [name]: value });
    clampTimeoutHeaders(h);
    assert.equal(h.get(name), want, `${name}: ${value}`);
  }
});

describe('a far deadline is not an expired one', () => {
  let server: ApiServer;
  let port: number;
  before(async () => {
    // Answers take 50 ms: a deadline that fires after 1 ms shows.
    ({ server, port } = await fakeServer({ backend: { delayMs: 50 } }));
  });
  after(() => server.close());

  test('connect-timeout-ms above 2^31-1 (Connect path and a request the fast path declines)', async () => {
    const h = { 'content-type': 'application/json', 'connect-timeout-ms': '9999999999' };
    const range = await post(port, '/leasekv.v1.KV/Range', '{"prefix":""}', h);
    assert.equal(range.status, 200, range.body);
    const declined = await post(port, '/leasekv.v1.KV/Get', '{"key":"a","consistency":1}', h);
    assert.equal(declined.status, 200, declined.body);
    assert.ok(server.fastPath!.declined >= 1);
  });

  test('@grpc/grpc-js with a 30-day deadline', async () => {
    const def = protoLoader.loadSync(PROTO, { longs: String, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      leasekv: { v1: { KV: grpc.ServiceClientConstructor } };
    };
    const client = new pkg.leasekv.v1.KV(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      type Get = (
        req: object,
        md: grpc.Metadata,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void,
      ) => void;
      const get = (client as unknown as Record<string, Get>)['Get']!.bind(client);
      const got = await new Promise<Record<string, unknown>>((resolve, reject) =>
        get({ key: 'a' }, new grpc.Metadata(), { deadline: Date.now() + 30 * 24 * 3600 * 1000 }, (err, res) =>
          err === null ? resolve(res) : reject(err),
        ),
      );
      assert.equal(got['found'], false);
    } finally {
      client.close();
    }
  });
});
