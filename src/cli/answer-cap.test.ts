// The answer byte cap (session 10) on a real node in this process (API on its own thread): a standard
// gRPC client and plain HTTP/JSON get resource_exhausted "answer too large" with the sizes, the flag
// and how to page; keys_only and count_only still answer; the client library's scan and
// `leasekv scan` page under the cap and return every key; a transaction over it applies nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { AnswerTooLargeError, LeasekvClient } from '../client/index.ts';
import { leasekv } from './commands/cli-test-util.ts';
import { post, type RawAnswer } from '../server/api/test-util.ts';
import { NOT_LEADER_WAIT_MS, startSoloNode, type SoloNode } from '../server/test-node.ts';
import { sleep } from '../testkit/wait.ts';

const PROTO = fileURLToPath(new URL('../../proto/leasekv/v1/kv.proto', import.meta.url));
const KEYS = 40;
const VALUE = 'v'.repeat(10 * 1024);
const CAP = 64 * 1024; // 6 keys of 10 KiB fit
const keyOf = (i: number): string => `big/${String(i).padStart(3, '0')}`;

/** A Range through @grpc/grpc-js with the .proto; retried while the node is briefly not leader (a loaded machine). */
async function grpcRange(port: number, req: object): Promise<Record<string, unknown>> {
  const def = protoLoader.loadSync(PROTO, { longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { leasekv: { v1: { KV: grpc.ServiceClientConstructor } } };
  const client = new pkg.leasekv.v1.KV(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  type Unary = (r: object, cb: (e: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void;
  const range = (client as unknown as Record<string, Unary>)['Range']!.bind(client);
  try {
    const until = performance.now() + NOT_LEADER_WAIT_MS;
    for (;;) {
      try {
        return await new Promise((resolve, reject) => range(req, (e, res) => (e === null ? resolve(res) : reject(e))));
      } catch (e) {
        if ((e as grpc.ServiceError).code !== grpc.status.FAILED_PRECONDITION || performance.now() > until) throw e;
        await sleep(50);
      }
    }
  } finally {
    client.close();
  }
}

/** A POST to the KV service, retried (as grpcRange) while the node is briefly not leader. */
async function postKv(port: number, method: string, body: object): Promise<RawAnswer> {
  const until = performance.now() + NOT_LEADER_WAIT_MS;
  for (;;) {
    const r = await post(port, `/leasekv.v1.KV/${method}`, JSON.stringify(body));
    if (r.status !== 400 || !/"failed_precondition"/.test(r.body) || performance.now() > until) return r;
    await sleep(50);
  }
}

describe('answer byte cap on a node', () => {
  let node: SoloNode;
  before(async () => {
    node = await startSoloNode('answer-cap', { maxValueBytes: '16384', maxResponseBytes: String(CAP) });
    for (let i = 0; i < KEYS; i++) await node.call('Put', { key: keyOf(i), value: VALUE });
  });
  after(() => node.stop());

  test('gRPC (grpc-js) and HTTP/JSON: resource_exhausted with the sizes, the flag and how to page', async () => {
    const e = await grpcRange(node.port, { prefix: 'big/' }).then(
      () => assert.fail('a Range over the cap was answered'),
      (err: grpc.ServiceError) => err,
    );
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED, e.details);
    // As written: grpc-message is spelled the spec's way, which grpc-js decodes (grpc-message.ts).
    const details = e.details;
    assert.match(details, /^answer too large: the answer passed \d+ bytes after 6 keys, over the limit of 65536 bytes/);
    assert.match(details, /--max-response-bytes/);
    assert.match(details, /start_key = the last key returned/);
    assert.match(details, /keys_only or count_only/);
    assert.deepEqual(e.metadata.get('leasekv-keys-that-fit'), ['6']);
    const http = await postKv(node.port, 'Range', { prefix: 'big/' });
    assert.equal(http.status, 429, http.body);
    assert.equal((JSON.parse(http.body) as { code: string }).code, 'resource_exhausted');
    assert.equal(http.headers['leasekv-keys-that-fit'], '6');
    // What the message says to do works: a limit that fits, then start_key.
    const page = await grpcRange(node.port, { prefix: 'big/', limit: 6, startKey: `${keyOf(5)}\u0000` });
    assert.deepEqual(
      (page['kvs'] as { key: string }[]).map((kv) => kv.key),
      [6, 7, 8, 9, 10, 11].map(keyOf),
    );
    assert.equal(page['more'], true);
  });

  test('keys_only and count_only answer over the whole range', async () => {
    const keys = await node.call('Range', { prefix: 'big/', keysOnly: true });
    assert.equal((keys['kvs'] as unknown[]).length, KEYS);
    assert.ok((keys['kvs'] as { value?: string }[]).every((kv) => (kv.value ?? '') === ''));
    const count = await node.call('Range', { prefix: 'big/', countOnly: true, limit: 1 });
    assert.equal(count['count'], String(KEYS));
    assert.deepEqual(count['kvs'] ?? [], []);
  });

  test('the client library refuses one Range over the cap, and scan() pages through every key', async () => {
    const kv = new LeasekvClient({ endpoints: [`http://127.0.0.1:${node.port}`] });
    try {
      await assert.rejects(kv.range('big/'), (e) => e instanceof AnswerTooLargeError && e.keysThatFit === 6);
      const keys: string[] = [];
      let pages = 0;
      for await (const p of kv.scan('big/')) {
        pages++;
        keys.push(...p.kvs.map((x) => x.key));
        assert.ok(p.kvs.every((x) => x.value === VALUE));
      }
      assert.deepEqual(
        keys,
        Array.from({ length: KEYS }, (_, i) => keyOf(i)),
      );
      assert.equal(pages, Math.ceil(KEYS / 6));
    } finally {
      await kv.close();
    }
  });

  test('`leasekv scan` returns every key; --count-only and --keys-only', async () => {
    const ep = ['--endpoints', `127.0.0.1:${node.port}`];
    const [all, count, keys] = await Promise.all([
      leasekv(['scan', 'big/', ...ep]),
      leasekv(['scan', 'big/', '--count-only', ...ep]),
      leasekv(['scan', 'big/', '--keys-only', ...ep]),
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stderr, '');
    const lines = all.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split('\t')[0]),
      Array.from({ length: KEYS }, (_, i) => keyOf(i)),
    );
    assert.ok(lines.every((l) => l.endsWith(`\t${VALUE}`)));
    assert.deepEqual([count.code, count.stdout], [0, `${KEYS}\n`], count.stderr);
    assert.equal(keys.stdout, Array.from({ length: KEYS }, (_, i) => `${keyOf(i)}\n`).join(''), keys.stderr);
  });

  test('a transaction whose answer would pass the cap is refused before it applies', async () => {
    const txn = {
      success: [{ requestPut: { key: 'txn/marker', value: 'x' } }, { requestRange: { prefix: 'big/', limit: KEYS } }],
    };
    const r = await postKv(node.port, 'Txn', txn);
    assert.equal(r.status, 429, r.body);
    assert.match(r.body, /answer too large: the answer passed/);
    assert.notEqual((await node.call('Get', { key: 'txn/marker' }))['found'], true);
    const small = await node.call('Txn', { success: [{ requestRange: { prefix: 'big/', limit: 3 } }] });
    assert.equal(small['succeeded'], true, JSON.stringify(small).slice(0, 200));
  });
});
