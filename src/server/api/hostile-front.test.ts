// Hostile connections through real sockets (issue 13): stalled HTTP/1.1 requests, HTTP/2 rapid
// reset, and connection floods are cut off at the front, and the node keeps serving.
import assert from 'node:assert/strict';
import { createServer as createHttp1Server } from 'node:http';
import { connect as h2connect, constants as h2c, createServer as createHttp2Server } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { createFrontEnd } from './front.ts';
import { MAX_REQUEST_HEADER_FIELDS } from './http-guards.ts';
import { fakeServer, post } from './test-util.ts';
import { sleep } from '../../testkit/wait.ts';

/** Resolves with what the server sent once it closes the socket; rejects if it is still open after `boundMs`. */
function closedWithin(sock: Socket, boundMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    sock.on('data', (c: Buffer) => (text += c.toString()));
    sock.on('error', () => undefined);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${boundMs} ms`)), boundMs);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

/** A connected socket; one the server resets may fail to connect (then it is returned closed). */
function open(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(s));
  });
}

describe('HTTP/1.1 timeouts on sockets handed over by the front end', () => {
  test('a half-sent request is closed (408) after the headers or request timeout', async () => {
    const { server, port } = await fakeServer({ limits: { headersTimeoutMs: 200, requestReceiveTimeoutMs: 400 } });
    try {
      const halfHeaders = await open(port);
      halfHeaders.write('POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\n');
      const halfBody = await open(port);
      halfBody.write(
        'POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ke',
      );
      // Bounds far above the timeouts (a loaded machine), far below "for ever".
      const [a, b] = await Promise.all([closedWithin(halfHeaders, 15_000), closedWithin(halfBody, 15_000)]);
      assert.match(a, /^HTTP\/1\.1 408/);
      assert.match(b, /^HTTP\/1\.1 408/);
      assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"a"}')).status, 200);
    } finally {
      await server.close();
    }
  });
});

describe('HTTP/2 rapid reset', () => {
  test('a session resetting streams faster than the limit gets GOAWAY (ENHANCE_YOUR_CALM) and is closed', async () => {
    const { server, port } = await fakeServer({ limits: { maxStreamResetsPerSec: 50 } });
    const s = h2connect(`http://127.0.0.1:${port}`);
    try {
      s.on('error', () => undefined);
      const goaway = new Promise<number>((resolve) => s.on('goaway', (code) => resolve(code)));
      const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
      await new Promise((r) => s.once('connect', r));
      // 600 resets, in small batches: under nghttp2's own burst allowance (1000), so only our limit
      // (50 per second) can end the session.
      for (let i = 0; i < 600 && !s.destroyed && !s.closed; i++) {
        const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
        r.on('error', () => undefined);
        r.close(h2c.NGHTTP2_CANCEL);
        if (i % 50 === 49) await sleep(5);
      }
      const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-2), 10_000).unref());
      const code = await Promise.race([goaway, timeout]);
      assert.equal(code, h2c.NGHTTP2_ENHANCE_YOUR_CALM);
      await Promise.race([closed, timeout]);
      assert.ok(s.closed || s.destroyed);
      // Other clients are served.
      assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"a"}')).status, 200);
    } finally {
      s.destroy();
      await server.close();
    }
  });
});

describe('HTTP/2 streams reset in the read that brought them', () => {
  test('are dropped before any request work', async () => {
    const { server, port, backend } = await fakeServer();
    const s = h2connect(`http://127.0.0.1:${port}`);
    try {
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      // 100 whole Gets, each reset at once: the client sends them in one write, under the reset limit.
      for (let i = 0; i < 100; i++) {
        const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
        r.on('error', () => undefined);
        r.end('{"key":"a"}');
        r.close(h2c.NGHTTP2_CANCEL);
      }
      // Then one that is not reset: answered, so every earlier one has been seen by then.
      const status = await new Promise<number>((resolve, reject) => {
        const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
        r.on('response', (h) => resolve(Number(h[':status'])));
        r.on('error', reject);
        r.end('{"key":"a"}');
      });
      assert.equal(status, 200);
      // Most arrive with their reset in one read (a loaded machine may split the write).
      assert.ok(server.resetBeforeHandling() >= 50, `dropped ${server.resetBeforeHandling()} of 100`);
      assert.ok(backend.calls.filter((c) => c.method === 'get').length <= 100 - server.resetBeforeHandling() + 1);
    } finally {
      s.destroy();
      await server.close();
    }
  });
});

describe('HTTP/2 concurrent streams', () => {
  test('the server advertises maxConcurrentStreams and never runs a stream beyond it', async () => {
    // Every Put is held until the end, so its stream stays open (a fixed delay could end the
    // first ones before a loaded machine sent the last).
    const { server, port, backend } = await fakeServer({ limits: { maxConcurrentStreams: 3 } });
    let release = (): void => undefined;
    backend.hold = new Promise<void>((resolve) => (release = resolve));
    const s = h2connect(`http://127.0.0.1:${port}`);
    try {
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
      // Node's default is 2^32-1: no bound on one connection's open streams.
      assert.equal(s.remoteSettings.maxConcurrentStreams, 3);
      for (let i = 0; i < 4; i++) {
        const st = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Put', 'content-type': 'application/json' });
        st.on('error', () => undefined);
        st.end(JSON.stringify({ key: `k${i}`, value: 'v' }));
      }
      const puts = (): number => backend.calls.filter((c) => c.method === 'put').length;
      for (let i = 0; i < 200 && puts() < 3; i++) await sleep(50);
      await sleep(300);
      // The client queues the fourth (or the server refuses it): it never reaches the backend while three are open.
      assert.equal(puts(), 3);
    } finally {
      release();
      s.destroy();
      await server.close();
    }
  });
});

describe('connection caps at the front end', () => {
  test('connections beyond the per-source cap are reset at once; the admitted ones are served', async () => {
    const { server, port } = await fakeServer({ limits: { maxConnectionsPerSource: 3 } });
    const socks: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) socks.push(await open(port));
      const extra = await open(port);
      if (!extra.destroyed) await closedWithin(extra, 15_000);
      assert.equal(server.connections.refusedConnections, 1);
      // An admitted connection still works.
      const ok = socks[0]!;
      const answer = new Promise<string>((resolve) => ok.once('data', (c: Buffer) => resolve(c.toString())));
      ok.write(
        'POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"key":"a"}',
      );
      assert.match(await answer, /^HTTP\/1\.1 200/);
    } finally {
      for (const s of socks) s.destroy();
      await server.close();
    }
  });

  test('new connections per second, per source and in all, are capped (fake clock)', async () => {
    let now = 0;
    const front = createFrontEnd({
      http1: createHttp1Server(),
      http2: createHttp2Server(),
      firstBytesTimeoutMs: 10_000,
      maxConnections: 100,
      maxConnectionsPerSource: 100,
      maxNewConnectionsPerSec: 100,
      maxNewConnectionsPerSourcePerSec: 4,
      nowMs: () => now,
    });
    await new Promise<void>((r) => front.server.listen(0, '127.0.0.1', () => r()));
    const port = (front.server.address() as { port: number }).port;
    const socks: Socket[] = [];
    try {
      const openOne = async (): Promise<Socket> => {
        const s = await open(port);
        socks.push(s);
        await new Promise((r) => setImmediate(r)); // the server has seen it
        return s;
      };
      for (let i = 0; i < 6; i++) await openOne();
      await sleep(50);
      assert.equal(front.stats.refusedConnections, 2);
      now += 1000; // the next second
      await openOne();
      await sleep(50);
      assert.equal(front.stats.refusedConnections, 2);
    } finally {
      for (const s of socks) s.destroy();
      await front.close();
    }
  });
});

/** Sends `request` on a new socket and resolves with everything the server sent until it closed. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => s.write(request));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(text));
  });
}

describe('requests with more header fields than the limit', () => {
  const filler = (n: number): string => Array.from({ length: n }, (_, i) => `x-f${i}: 1\r\n`).join('');

  test('HTTP/1.1: refused whole with 431, never read with headers missing (Node kept the first 1,000)', async () => {
    const { server, port, backend } = await fakeServer();
    try {
      const body = '{"key":"a","value":"1"}';
      // The content type comes after the filler: before the fix, Node dropped it and the request was
      // answered 415 `content-type ""`. 128 fields in all are served; 1,504 are past Node's 1,000.
      for (const n of [MAX_REQUEST_HEADER_FIELDS - 4, 1500]) {
        const answer = await rawExchange(
          port,
          `POST /leasekv.v1.KV/Put HTTP/1.1\r\nhost: x\r\n${filler(n)}content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
        if (n < MAX_REQUEST_HEADER_FIELDS) {
          assert.match(answer, /^HTTP\/1\.1 200/);
          continue;
        }
        assert.match(answer, /^HTTP\/1\.1 431/);
        assert.match(answer, /connection: close/i);
        assert.match(answer, /"code":"resource_exhausted".*1504 header fields; the limit is 128/);
      }
      // The Connect route and the dashboard's routes too (one over the limit).
      const range = await rawExchange(
        port,
        `POST /leasekv.v1.KV/Range HTTP/1.1\r\nhost: x\r\n${filler(MAX_REQUEST_HEADER_FIELDS - 3)}content-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
      );
      assert.match(range, /^HTTP\/1\.1 431[^]*129 header fields/);
      assert.equal(backend.calls.filter((c) => c.method === 'put').length, 1);
    } finally {
      await server.close();
    }
  });

  test('HTTP/2 and gRPC: refused with a message (431 / RESOURCE_EXHAUSTED), not a bare stream reset', async () => {
    const { server, port, backend } = await fakeServer();
    const s = h2connect(`http://127.0.0.1:${port}`);
    try {
      s.on('error', () => undefined);
      const ask = (contentType: string, extra: number): Promise<Record<string, unknown>> =>
        new Promise((resolve, reject) => {
          const headers: Record<string, string> = { ':method': 'POST', ':path': '/leasekv.v1.KV/Get' };
          for (let i = 0; i < extra; i++) headers[`x-f${i}`] = '1';
          headers['content-type'] = contentType;
          const r = s.request(headers);
          let body = '';
          let answer: Record<string, unknown> = {};
          r.on('response', (h) => (answer = { ...h }));
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('close', () => resolve({ ...answer, body, rst: r.rstCode }));
          r.on('error', reject);
          r.end(contentType === 'application/json' ? '{"key":"a"}' : Buffer.alloc(5));
        });
      const json = await ask('application/json', MAX_REQUEST_HEADER_FIELDS);
      assert.equal(json[':status'], 431);
      assert.match(String(json['body']), /"resource_exhausted".*129 header fields/);
      const grpc = await ask('application/grpc', 200);
      assert.equal(grpc[':status'], 200);
      assert.equal(grpc['grpc-status'], '8');
      assert.match(decodeURIComponent(String(grpc['grpc-message'])), /201 header fields; the limit is 128/);
      const ok = await ask('application/json', MAX_REQUEST_HEADER_FIELDS - 1);
      assert.equal(ok[':status'], 200);
      assert.equal(backend.calls.filter((c) => c.method === 'get').length, 1);
    } finally {
      s.destroy();
      await server.close();
    }
  });
});

describe('a client that half-closes after its request', () => {
  test('HTTP/1.1 gets its answers (Node ended our side on the FIN and they were lost), then the socket closes', async () => {
    const { server, port } = await fakeServer({ backend: { delayMs: 50 } });
    try {
      const halfClosed = (request: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const s = netConnect(port, '127.0.0.1', () => s.end(request)); // the request, then FIN
          let text = '';
          s.on('data', (c: Buffer) => (text += c.toString()));
          s.on('error', reject);
          s.on('close', () => resolve(text));
        });
      const req = (path: string, body: string): string =>
        `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
      // Connect (answered after the backend's 50 ms) and the fast path; then two pipelined.
      assert.match(await halfClosed(req('/leasekv.v1.KV/Range', '{"prefix":"a"}')), /^HTTP\/1\.1 200[^]*"more":false/);
      assert.match(await halfClosed(req('/leasekv.v1.KV/Put', '{"key":"a","value":"1"}')), /^HTTP\/1\.1 200/);
      const two = await halfClosed(
        req('/leasekv.v1.KV/Get', '{"key":"a"}') + req('/leasekv.v1.KV/Range', '{"prefix":"a"}'),
      );
      assert.equal(two.match(/HTTP\/1\.1 200/g)?.length, 2, two);
    } finally {
      await server.close();
    }
  });
});

test('a connection that closes before a whole first request is closed at once (not held until the first-bytes timeout)', async () => {
  const { server, port } = await fakeServer({ limits: { headersTimeoutMs: 60_000, requestReceiveTimeoutMs: 60_000 } });
  try {
    const s = await open(port);
    s.end('PRI * HTTP/2.0\r\n'); // a prefix of the HTTP/2 preface, then FIN
    assert.equal(await closedWithin(s, 5_000), '');
  } finally {
    await server.close();
  }
});
