// Watch through the API (issue 14) over a fake backend: gRPC server streaming, server-sent events
// (curl's view, and resuming with Last-Event-ID), and the compacted error on both.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { Event_EventType, KV } from '../../gen/leasekv/v1/kv_pb.ts';
import type { FakeBackend } from './fake-backend.ts';
import type { ApiServer } from './server.ts';
import { fakeServer, post } from './test-util.ts';
import { readSse } from '../../testkit/sse.ts';
import { sleep } from '../../testkit/wait.ts';

/** Reads an SSE stream until `n` blocks arrived (or it ended); returns the blocks' lines. */
/** The first `n` SSE blocks of `path` (fewer if the stream ends). */
const sse = (port: number, path: string, n: number, headers: Record<string, string> = {}) =>
  readSse(port, path, (blocks) => blocks.length >= n, headers);

describe('Watch over the API', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    ({ server, backend, port } = await fakeServer({ backend: { watch: { maxHistoryRevisions: 3 } } }));
  });
  after(() => server.close());
  const put = (key: string, value: string) => post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key, value }));

  test('gRPC server streaming: from a past revision, prefix, prev_kv, a transaction in one response', async () => {
    await put('p/a', '1'); // revision 1
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const ctrl = new AbortController();
    const got: { revision: bigint; events: { type: Event_EventType; key: string; prev: string | undefined }[] }[] = [];
    const stream = grpc.watch({ key: 'p/', prefix: true, startRevision: 1n, prevKv: true }, { signal: ctrl.signal });
    const reading = (async () => {
      try {
        for await (const r of stream) {
          if (r.events.length === 0) continue;
          got.push({
            revision: r.revision,
            events: r.events.map((e) => ({ type: e.type, key: e.kv?.key ?? '', prev: e.prevKv?.value })),
          });
          if (got.length === 2) ctrl.abort();
        }
      } catch (err) {
        if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
      }
    })();
    await post(
      port,
      '/leasekv.v1.KV/Txn',
      JSON.stringify({
        success: [{ requestPut: { key: 'p/a', value: '2' } }, { requestPut: { key: 'p/b', value: '1' } }],
      }),
    );
    await reading;
    assert.deepEqual(got, [
      { revision: 1n, events: [{ type: Event_EventType.PUT, key: 'p/a', prev: undefined }] },
      {
        revision: 2n,
        events: [
          { type: Event_EventType.PUT, key: 'p/a', prev: '1' },
          { type: Event_EventType.PUT, key: 'p/b', prev: undefined },
        ],
      },
    ]);
    // The server learns of the cancel when the stream reset arrives (bounded wait, no timing claim).
    for (let i = 0; i < 100 && backend.watchHub.watcherCount > 0; i++) await sleep(20);
    assert.equal(backend.watchHub.watcherCount, 0, 'the watcher is gone when the client cancels');
  });

  test('server-sent events: events and progress, resumed with Last-Event-ID; compacted is a clear error', async () => {
    const { status, blocks } = await sse(port, '/v1/watch?key=p/b&rev=1', 2);
    assert.equal(status, 200);
    assert.match(
      blocks[0]!,
      /^id: 2\nevent: events\ndata: \{"revision":"2","events":\[\{"type":"PUT","kv":\{"key":"p\/b","value":"1","createRevision":"2","modRevision":"2","version":"1"\}\}\],"memberId":"n1","fragment":false\}$/,
    );
    assert.match(
      blocks[1]!,
      /^id: 2\nevent: progress\ndata: \{"revision":"2","events":\[\],"memberId":"n1","fragment":false\}$/,
    );
    // Resume after revision 2: the next change only.
    const resumed = sse(port, '/v1/watch?key=p/b', 2, { 'last-event-id': '2' });
    await put('p/b', '2');
    const r = await resumed;
    assert.match(r.blocks.find((b) => b.includes('event: events')) ?? '', /^id: 3\n.*"value":"2"/s);
    for (let i = 0; i < 5; i++) await put('other', `${i}`); // the history holds 3 revisions
    const old = await sse(port, '/v1/watch?key=p/b&rev=1', 1);
    assert.match(
      old.blocks[0]!,
      /^event: error\ndata: \{"code":"out_of_range","message":"compacted: revision 1 has been compacted; the oldest revision available on this member is 6"\}$/,
    );
    const bad = await sse(port, '/v1/watch?key=p/b&revision=1', 1);
    assert.equal(bad.status, 400);
    assert.match(bad.blocks[0]!, /unknown query parameter 'revision'/);
    // Session 11: refused, not read leniently (a key of U+FFFD, revision 16, a non-prefix watch).
    for (const [path, why] of [
      ['/v1/watch?key=%FF', /parameter 'key' is not valid percent-encoded UTF-8/],
      ['/v1/watch?key=p/b&rev=0x10', /rev "0x10" is not a revision/],
      ['/v1/watch?key=p/&prefix=tru', /'prefix' is "tru": say true or false/],
    ] as const) {
      const r = await sse(port, path, 1);
      assert.equal(r.status, 400, path);
      const answer = JSON.parse(r.blocks[0]!) as { code: string; message: string };
      assert.equal(answer.code, 'invalid_argument', path);
      assert.match(answer.message, why, path);
    }
    const badId = await sse(port, '/v1/watch?key=p/b', 1, { 'last-event-id': '1e3' });
    assert.equal(badId.status, 400);
    assert.match(
      (JSON.parse(badId.blocks[0]!) as { message: string }).message,
      /Last-Event-ID "1e3" is not a revision/,
    );
  });

  test('gRPC: compacted → OUT_OF_RANGE with the oldest revision in the trailers', async () => {
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    await assert.rejects(
      (async () => {
        for await (const _ of grpc.watch({ key: 'p/', prefix: true, startRevision: 1n })) void _;
      })(),
      (e: unknown) =>
        e instanceof ConnectError &&
        e.code === Code.OutOfRange &&
        /compacted/.test(e.message) &&
        e.metadata.get('leasekv-compact-revision') === '6',
    );
  });
});
