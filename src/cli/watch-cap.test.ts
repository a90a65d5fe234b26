// One revision over --max-response-bytes on a real node (session 11), with the default limits: a
// transaction of five 1 MiB values is ~5 MiB of events, over the 4 MiB a standard gRPC client
// receives. Before, it went as one WatchResponse that grpc-js refused ("Received message larger
// than max", the watch lost). Now: with fragment, grpc-js (default options) and server-sent events
// get it in pieces under the cap that join to the revision, a reconnect mid-revision starts it
// again from its first piece, and the client library and `leasekv watch` show it whole; without
// fragment, a clear resource_exhausted "answer too large".
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LeasekvClient, type WatchResponse } from '../client/index.ts';
import { leasekv } from './commands/cli-test-util.ts';
import { startSoloNode, type SoloNode } from '../server/test-node.ts';
import { readSse } from '../testkit/sse.ts';

const PROTO = fileURLToPath(new URL('../../proto/leasekv/v1/kv.proto', import.meta.url));
const MiB = 1024 * 1024;
const KEYS = [1, 2, 3, 4, 5].map((i) => `big/${i}`);
const valueOf = (key: string): string => key.slice(-1).repeat(MiB - 64);
/** The default --max-response-bytes; a standard gRPC client takes at most 4 MiB. */
const CAP = 3 * MiB;

interface GrpcEvent {
  kv: { key: string; value: string };
}
interface GrpcResponse {
  revision: string;
  events: GrpcEvent[];
  fragment: boolean;
}

/** Watches through @grpc/grpc-js with its default options until a whole revision with events came. */
function grpcWatch(port: number, req: object): Promise<GrpcResponse[]> {
  const def = protoLoader.loadSync(PROTO, { longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { leasekv: { v1: { KV: grpc.ServiceClientConstructor } } };
  const client = new pkg.leasekv.v1.KV(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  type Stream = (r: object) => grpc.ClientReadableStream<GrpcResponse>;
  const call = (client as unknown as Record<string, Stream>)['Watch']!.call(client, req);
  const got: GrpcResponse[] = [];
  return new Promise<GrpcResponse[]>((resolve, reject) => {
    call.on('data', (r: GrpcResponse) => {
      if (r.events.length === 0) return;
      got.push(r);
      if (!r.fragment) {
        call.cancel();
        resolve(got);
      }
    });
    call.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? resolve(got) : reject(e)));
  }).finally(() => client.close());
}

/** Reads server-sent events until `done` says so (or the stream ends); the blocks as sent. */
const sse = async (
  port: number,
  path: string,
  done: (blocks: readonly string[]) => boolean,
  headers: Record<string, string> = {},
): Promise<string[]> => (await readSse(port, path, done, headers)).blocks;

const data = (block: string): GrpcResponse =>
  JSON.parse(block.slice(block.indexOf('data: ') + 6)) as unknown as GrpcResponse;
const lastWhole = (blocks: readonly string[]): boolean => {
  const b = blocks.at(-1)!;
  return b.includes('event: error') || (b.includes('event: events') && !data(b).fragment);
};

describe('a revision over --max-response-bytes', () => {
  let node: SoloNode;
  let before_: number; // a revision with one small event, just before the big one
  let rev: number;
  before(async () => {
    node = await startSoloNode('watch-cap', {});
    before_ = Number((await node.call('Put', { key: 'big/0', value: 'small' }))['revision']);
    const txn = await node.call('Txn', {
      success: KEYS.map((key) => ({ requestPut: { key, value: valueOf(key) } })),
    });
    assert.equal(txn['succeeded'], true, JSON.stringify(txn).slice(0, 200));
    rev = Number(txn['revision']);
    assert.equal(rev, before_ + 1);
  });
  after(() => node.stop());

  test('grpc-js with default options and fragment: pieces under the cap that join to the revision', async () => {
    const got = await grpcWatch(node.port, { key: 'big/', prefix: true, startRevision: rev, fragment: true });
    assert.deepEqual(
      got.map((r) => [r.revision, r.events.length, r.fragment]),
      [
        [String(rev), 2, true],
        [String(rev), 2, true],
        [String(rev), 1, false],
      ],
    );
    const events = got.flatMap((r) => r.events);
    assert.deepEqual(
      events.map((e) => e.kv.key),
      KEYS,
    );
    assert.ok(events.every((e) => e.kv.value === valueOf(e.kv.key)));
  });

  test('grpc-js without fragment: resource_exhausted "answer too large" from the server, saying what to do', async () => {
    const e = await grpcWatch(node.port, { key: 'big/', prefix: true, startRevision: rev }).then(
      () => assert.fail('a revision over the cap was sent whole'),
      (err: grpc.ServiceError) => err,
    );
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED, e.details);
    const details = e.details; // as written: grpc-message is spelled the spec's way (grpc-message.ts)
    assert.match(
      details,
      new RegExp(`^answer too large: the events of revision ${rev} pass the limit of ${CAP} bytes`),
    );
    assert.match(details, /fragment: true/);
  });

  test('server-sent events: pieces without an id until the last; without fragment=true, an error event', async () => {
    const blocks = await sse(node.port, `/v1/watch?key=big/&prefix=true&rev=${rev}&fragment=true`, lastWhole);
    const pieces = blocks.filter((b) => b.includes('event: events'));
    assert.equal(pieces.length, 3);
    assert.ok(pieces.every((b) => Buffer.byteLength(b) < CAP + 4096));
    assert.ok(!pieces[0]!.startsWith('id:') && !pieces[1]!.startsWith('id:'), 'a fragment has no id');
    assert.ok(pieces[2]!.startsWith(`id: ${rev}\n`));
    assert.deepEqual(
      pieces.map((b) => data(b).fragment),
      [true, true, false],
    );
    assert.deepEqual(
      pieces.flatMap((b) => data(b).events.map((e) => e.kv.key)),
      KEYS,
    );
    const refused = await sse(node.port, `/v1/watch?key=big/&prefix=true&rev=${rev}`, lastWhole);
    assert.match(refused.at(-1)!, /^event: error\ndata: \{"code":"resource_exhausted","message":"answer too large: /);
  });

  test('server-sent events: a reconnect with Last-Event-ID in the middle of a revision starts it again whole', async () => {
    const path = `/v1/watch?key=big/&prefix=true&fragment=true`;
    // Up to the first piece of the big revision, then the connection is lost.
    const first = await sse(node.port, `${path}&rev=${before_}`, (b) => b.length === 2);
    assert.ok(first[0]!.startsWith(`id: ${before_}\n`));
    assert.equal(data(first[1]!).fragment, true);
    const withId = first.filter((b) => b.startsWith('id: ')).at(-1)!;
    const lastId = withId.slice(4, withId.indexOf('\n'));
    assert.equal(lastId, String(before_), 'the last id is the last whole revision');
    const again = await sse(node.port, path, lastWhole, { 'last-event-id': lastId });
    const pieces = again.filter((b) => b.includes('event: events'));
    assert.deepEqual(
      pieces.flatMap((b) => data(b).events.map((e) => e.kv.key)),
      KEYS,
      'no piece lost, none twice',
    );
  });

  test('the client library and `leasekv watch` show the revision whole', async () => {
    const kv = new LeasekvClient({ endpoints: [`http://127.0.0.1:${node.port}`] });
    const ctrl = new AbortController();
    try {
      const it = kv.watch('big/', { prefix: true, startRevision: before_, prevKv: true, signal: ctrl.signal });
      const next = async (): Promise<WatchResponse> => {
        const r = await it.next();
        assert.ok(r.done !== true, 'the watch ended');
        return r.value;
      };
      const small = await next();
      assert.deepEqual([small.revision, small.events.length], [before_, 1]);
      const whole = await next();
      assert.equal(whole.revision, rev);
      assert.deepEqual(
        whole.events.map((e) => e.kv.key),
        KEYS,
      );
      assert.ok(whole.events.every((e) => e.kv.value === valueOf(e.kv.key)));
      ctrl.abort();
    } finally {
      await kv.close();
    }
    const out = await leasekv([
      'watch',
      'big/',
      '--prefix',
      '--rev',
      String(rev),
      '--count',
      '5',
      '-w',
      'json',
      '--endpoints',
      `127.0.0.1:${node.port}`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: string; modRevision: number });
    assert.deepEqual(
      lines.map((l) => [l.key, l.value.length, l.modRevision]),
      KEYS.map((k) => [k, MiB - 64, rev]),
    );
  });
});
