// The client API on its own thread (issue 13) over the in-memory fake backend, which stays on this
// (the node's) thread: requests, errors, deadlines, watch streams and the forwarded extra routes
// behave as with the API in one thread.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect as connectH2 } from 'node:http2';
import { createServer } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { KV } from '../../gen/leasekv/v1/kv_pb.ts';
import { OutcomeUnknownError } from '../backend.ts';
import { FakeBackend } from '../api/fake-backend.ts';
import { post } from '../api/test-util.ts';
import type { ExtraRoute } from '../api/server.ts';
import { startApiThread, type ApiThread } from './host.ts';

/** Answered on the node's thread: records that, echoes the query and body, then streams three chunks. */
const seenOnMain: boolean[] = [];
const routes: ExtraRoute[] = [
  {
    method: 'POST',
    path: '/echo',
    handler: (req, res) => {
      seenOnMain.push(isMainThread);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain', 'x-route': 'echo' });
        res.write(`${req.url ?? ''} ${body}\n`);
        let n = 0;
        const t = setInterval(() => {
          res.write(`chunk ${n}\n`);
          if (++n === 3) {
            clearInterval(t);
            res.end();
          }
        }, 10);
      });
    },
  },
];

describe('client API thread', () => {
  let api: ApiThread;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    backend = new FakeBackend({ watch: { maxHistoryRevisions: 3 } });
    api = await startApiThread({ host: '127.0.0.1', port: 0, backend, extraRoutes: routes });
    port = api.port;
  });
  after(() => api.close({ drainMs: 100 }));

  test('JSON fast path, Connect and gRPC reach the backend on the node thread', async () => {
    const put = await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'a', value: '1' }));
    assert.equal(put.status, 200, put.body);
    assert.equal(backend.data.get('a'), '1');
    const got = await post(port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'a' }));
    assert.equal(got.status, 200, got.body);
    assert.match(got.body, /^\{"found":true,"value":"1","index":"1","readMode":"READ_MODE_LEASE"/);
    const connect = createClient(
      KV,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '1.1' }),
    );
    assert.equal((await connect.range({ prefix: '' })).kvs[0]?.value, '1');
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const txn = await grpc.txn({ success: [{ request: { case: 'requestRange', value: { prefix: 'a' } } }] });
    assert.equal(txn.succeeded, true);
    assert.equal(txn.responses[0]?.response.case, 'responseRange');
  });

  test('errors keep their meaning: not-leader hints, outcome unknown, deadline on a waiting read', async () => {
    backend.followerOf = { leaderId: 'n2', leaderClientAddr: '127.0.0.1:7002' };
    try {
      const r = await post(port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'a' }));
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, /"code":"failed_precondition"/);
      assert.equal(r.headers['leasekv-leader'], 'n2');
      assert.equal(r.headers['leasekv-leader-addr'], '127.0.0.1:7002');
    } finally {
      backend.followerOf = undefined;
    }
    backend.failNext.push(new OutcomeUnknownError('lost while in flight'));
    const w = await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'b', value: '1' }));
    assert.equal(w.status, 503, w.body);
    assert.equal(w.headers['leasekv-outcome'], 'unknown');
    // A read the node cannot answer at once waits on the node thread, bounded by the client's deadline.
    backend.delayMs = 5000;
    try {
      const slow = await post(port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'a' }), {
        'content-type': 'application/json',
        'connect-timeout-ms': '100',
      });
      assert.match(slow.body, /"code":"deadline_exceeded"/);
      // A write goes over without an abort signal (putQuick): the node's side answers the deadline.
      const slowPut = await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'b', value: '2' }), {
        'content-type': 'application/json',
        'connect-timeout-ms': '100',
      });
      assert.equal(slowPut.status, 504, slowPut.body);
      assert.match(slowPut.body, /"code":"deadline_exceeded","message":"deadline of 100 ms exceeded"/);
    } finally {
      backend.delayMs = 0;
    }
  });

  test('requests arriving together cross in batches each way, and each is answered with its own result', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `many/${i}`);
    const answers = await Promise.all(
      keys.map((key, i) => post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key, value: `${i}` }))),
    );
    for (const a of answers) assert.equal(a.status, 200, a.body);
    const revisions = answers.map((a) => (JSON.parse(a.body) as { revision: string }).revision);
    assert.equal(new Set(revisions).size, keys.length, 'one distinct revision per write');
    keys.forEach((key, i) => assert.equal(backend.data.get(key), `${i}`));
    const reads = await Promise.all(keys.map((key) => post(port, '/leasekv.v1.KV/Get', JSON.stringify({ key }))));
    reads.forEach((r, i) => assert.match(r.body, new RegExp(`^\\{"found":true,"value":"${i}",`)));
  });

  test('watch: a gRPC stream fed from the node thread; cancelling it ends the watcher there', async () => {
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    const ctrl = new AbortController();
    const keys: string[] = [];
    const stream = grpc.watch({ key: 'w/', prefix: true }, { signal: ctrl.signal });
    const reading = (async () => {
      try {
        for await (const r of stream) {
          for (const e of r.events) keys.push(e.kv?.key ?? '');
          if (keys.length === 40) ctrl.abort();
        }
      } catch (err) {
        if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
      }
    })();
    for (let i = 0; i < 100 && backend.watchHub.watcherCount === 0; i++) await new Promise((r) => setTimeout(r, 20));
    // More batches than the flow-control window: later ones go out as earlier ones are taken.
    for (let i = 0; i < 40; i++) await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: `w/${i}`, value: 'v' }));
    await reading;
    assert.deepEqual(
      keys,
      Array.from({ length: 40 }, (_, i) => `w/${i}`),
    );
    for (let i = 0; i < 100 && backend.watchHub.watcherCount > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(backend.watchHub.watcherCount, 0, 'the watcher on the node thread is gone');
  });

  test('watch: compacted is out_of_range with the oldest revision, as in one thread', async () => {
    for (let i = 0; i < 5; i++) await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'c', value: `${i}` }));
    const grpc = createClient(KV, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    await assert.rejects(
      (async () => {
        for await (const _ of grpc.watch({ key: 'c', startRevision: 1n })) void _;
      })(),
      (e: unknown) =>
        e instanceof ConnectError &&
        e.code === Code.OutOfRange &&
        /compacted/.test(e.message) &&
        e.metadata.get('leasekv-compact-revision') !== null,
    );
  });

  test('extra routes run on the node thread; query, body, status, headers and a streamed answer pass through', async () => {
    const answer = await new Promise<{ status: number; route: string; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/echo?x=1', method: 'POST', headers: { 'content-type': 'text/plain' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, route: String(res.headers['x-route']), body }));
        },
      );
      req.on('error', reject);
      req.end('hello');
    });
    assert.deepEqual(answer, { status: 201, route: 'echo', body: '/echo?x=1 hello\nchunk 0\nchunk 1\nchunk 2\n' });
    assert.deepEqual(seenOnMain.slice(0, 1), [true]);
  });

  test('an extra route asked over HTTP/2 is forwarded too (its pseudo-headers once ended the API thread and the node)', async () => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/echo?x=2', 'content-type': 'text/plain' });
        let status = 0;
        let body = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end('h2');
      });
      assert.deepEqual(answer, { status: 201, body: '/echo?x=2 h2\nchunk 0\nchunk 1\nchunk 2\n' });
    } finally {
      session.close();
    }
  });

  test("stats: the API thread's counters arrive through shared memory", async () => {
    // The counters are published on a timer: wait for a publish after the answers were counted and
    // their requests had left the in-flight count.
    const settled = (): boolean => api.stats().fastServed >= 2 && api.stats().inFlight === 0;
    for (let i = 0; i < 500 && !settled(); i++) await new Promise((r) => setTimeout(r, 20));
    const s = api.stats();
    assert.ok(s.fastServed >= 2, `fast path answers counted: ${JSON.stringify(s)}`);
    assert.equal(s.inFlight, 0);
  });
});

test('a client port in use: the start fails with the reason and leaves no thread behind', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      startApiThread({ host: '127.0.0.1', port, backend: new FakeBackend() }),
      (e: unknown) => e instanceof Error && /EADDRINUSE/.test(e.message),
    );
  } finally {
    blocker.close();
  }
});
