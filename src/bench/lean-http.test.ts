// The lean client against local servers: node:http's own (keep-alive reuse, chunked answers,
// Connection: close, an idle connection closed by the server), raw node:net ones (answers split
// into many writes, a connection closed mid-answer or without one, bytes nobody asked for), that it
// sends node:http's bytes, and the closed-loop load (load.ts) counting bad answers as errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, Agent, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { encodeRequest, LeanConnection } from './lean-http.ts';
import { runLoad, setLoadClient, loadClient, type Workload } from './load.ts';
import { checkAnswer } from './answers.ts';

async function listen(s: Server | NetServer): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

async function close(s: Server | NetServer): Promise<void> {
  if ('closeAllConnections' in s) s.closeAllConnections();
  await new Promise<void>((r) => s.close(() => r()));
}

/** A node:http server answering every POST with `answer(req, res, body)`; counts connections. */
async function httpServer(
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => answer(req, res, body));
  });
  server.on('connection', () => n++);
  return { server, port: await listen(server), connections: () => n };
}

/** Resolves once `cond` holds, polling each turn of the event loop (no fixed sleeps). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

const put = (port: number, key = 'k'): Buffer =>
  encodeRequest('127.0.0.1', port, '/leasekv.v1.KV/Put', JSON.stringify({ key, value: 'v' }));

test("the lean client sends node:http's bytes for the same request", { timeout: 60_000 }, async () => {
  const seen: string[] = [];
  const raw = createNetServer((s) => {
    s.on('data', (d: Buffer) => {
      seen.push(d.toString('latin1'));
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}');
    });
  });
  const port = await listen(raw);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = '{"key":"bench-00000001","value":"vv"}';
  const extra = { authorization: 'Bearer t' };
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/leasekv.v1.KV/Put',
        method: 'POST',
        agent,
        headers: { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => res.resume().on('end', resolve),
    );
    req.on('error', reject);
    req.end(body);
  });
  const c = new LeanConnection('127.0.0.1', port);
  await c.request(encodeRequest('127.0.0.1', port, '/leasekv.v1.KV/Put', body, extra));
  agent.destroy();
  c.close();
  await close(raw);
  assert.equal(seen.length, 2);
  assert.equal(seen[1], seen[0]);
});

test('one connection serves many requests in turn; a chunked answer is read whole', { timeout: 60_000 }, async () => {
  const { server, port, connections } = await httpServer((_req, res, body) => {
    const key = (JSON.parse(body) as { key: string }).key;
    if (key === 'chunked') {
      res.writeHead(200, { 'content-type': 'application/json' }); // no length: node:http chunks it
      res.write('{"index":');
      setImmediate(() => res.end('"7"}'));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"index":"${key.length}"}`);
  });
  const c = new LeanConnection('127.0.0.1', port);
  try {
    for (let i = 0; i < 20; i++) {
      const r = await c.request(put(port, 'x'.repeat(i + 1)));
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `{"index":"${i + 1}"}`);
    }
    const ch = await c.request(put(port, 'chunked'));
    assert.equal(ch.body.toString(), '{"index":"7"}');
    await c.request(put(port));
    assert.equal(c.opened, 1);
    assert.equal(connections(), 1);
  } finally {
    c.close();
    await close(server);
  }
});

test(
  'a connection the server closes (idle, or with Connection: close) is opened again for the next request',
  { timeout: 60_000 },
  async () => {
    let serverSocket: Socket | undefined;
    const { server, port, connections } = await httpServer((req, res, body) => {
      serverSocket = req.socket;
      if (body.includes('"last"')) res.setHeader('connection', 'close');
      res.writeHead(200).end('{"index":"1"}');
    });
    const c = new LeanConnection('127.0.0.1', port);
    try {
      assert.equal((await c.request(put(port))).status, 200);
      // The server ends the idle connection (as its keep-alive timeout would); the client sees the end.
      serverSocket?.end();
      await until(() => !c.connected);
      assert.equal((await c.request(put(port))).status, 200);
      assert.equal(c.opened, 2);
      const last = await c.request(put(port, 'last'));
      assert.equal(last.keepAlive, false);
      assert.equal(c.connected, false);
      assert.equal((await c.request(put(port))).status, 200);
      assert.equal(c.opened, 3);
      assert.equal(connections(), 3);
    } finally {
      c.close();
      await close(server);
    }
  },
);

/** A raw server that answers each request by `script(socket)`. */
async function rawServer(script: (s: Socket) => void): Promise<{ server: NetServer; port: number }> {
  const server = createNetServer((s) => s.on('data', () => script(s)));
  return { server, port: await listen(server) };
}

test('an answer split into many writes is read whole, then the connection is reused', { timeout: 60_000 }, async () => {
  const answer = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4\r\n{"in\r\na\r\ndex":"42"}\r\n0\r\n\r\n',
  );
  const { server, port } = await rawServer((s) => {
    s.setNoDelay(true);
    let i = 0;
    const next = (): void => {
      if (i >= answer.length) return;
      s.write(answer.subarray(i, i + 3));
      i += 3;
      setImmediate(next);
    };
    next();
  });
  const c = new LeanConnection('127.0.0.1', port);
  try {
    for (let k = 0; k < 3; k++) assert.equal((await c.request(put(port))).body.toString(), '{"index":"42"}');
    assert.equal(c.opened, 1);
  } finally {
    c.close();
    await close(server);
  }
});

test(
  'a connection closed mid-answer, or with no answer, fails that request; the next one reconnects',
  { timeout: 60_000 },
  async () => {
    let mode: 'half' | 'none' | 'ok' | 'extra' = 'half';
    const { server, port } = await rawServer((s) => {
      if (mode === 'half') s.end('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{"index":');
      else if (mode === 'none') s.destroy();
      else if (mode === 'extra') s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n');
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{"index":"1"}');
    });
    const c = new LeanConnection('127.0.0.1', port);
    try {
      await assert.rejects(c.request(put(port)), /middle of an answer/);
      mode = 'none';
      await assert.rejects(c.request(put(port)));
      mode = 'extra';
      await assert.rejects(c.request(put(port)), /bytes after the answer/);
      mode = 'ok';
      assert.equal((await c.request(put(port))).body.toString(), '{"index":"1"}');
      assert.equal(c.opened, 4);
    } finally {
      c.close();
      await close(server);
    }
  },
);

test("the answers' shapes: leasekv's Put and Get, etcd's put and range", () => {
  assert.equal(checkAnswer('/leasekv.v1.KV/Put', '{"index":"2","revision":"1"}'), null);
  assert.equal(
    checkAnswer('/v3/kv/put', '{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"}}'),
    null,
  );
  assert.equal(checkAnswer('/leasekv.v1.KV/Get', '{"found":false,"value":"","index":"2"}'), null);
  assert.equal(checkAnswer('/v3/kv/range', '{"header":{"revision":"9"},"kvs":[{"key":"YQ=="}],"count":"1"}'), null);
  assert.match(checkAnswer('/leasekv.v1.KV/Put', '{"code":"unavailable"}') ?? '', /not leasekv's Put answer/);
  assert.match(checkAnswer('/v3/kv/put', '{"header":{}}') ?? '', /not etcd's put answer/);
  assert.match(checkAnswer('/v3/kv/put', '{"header":{"revision":2}}') ?? '', /not etcd's put answer/);
  assert.match(checkAnswer('/v3/kv/range', '{"header":{"revision":"9"},"kvs":{}}') ?? '', /not etcd's range/);
  assert.match(checkAnswer('/v3/kv/put', '{"header":') ?? '', /not JSON/);
  assert.match(checkAnswer('/other', '[1]') ?? '', /not a JSON object/);
  assert.equal(checkAnswer('/other', '{}'), null);
});

test(
  'the closed-loop load checks every answer with either client and counts the bad ones as errors',
  { timeout: 60_000 },
  async () => {
    let n = 0;
    const { server, port } = await httpServer((_req, res) => {
      n++;
      if (n % 10 === 3) res.writeHead(503).end('{"code":"unavailable"}');
      else if (n % 10 === 6) res.writeHead(200).end('{"code":"not a put answer"}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"index":"5","revision":"5"}');
    });
    const w: Workload = {
      port,
      clients: 4,
      durationMs: 300,
      readFraction: 0,
      keys: 100,
      valueBytes: 10,
      get: () => ({ path: '/', body: '' }),
      put: (key, value) => ({ path: '/leasekv.v1.KV/Put', body: JSON.stringify({ key, value }) }),
    };
    const before = loadClient();
    try {
      n = 0;
      setLoadClient('lean');
      const lean = await runLoad(w);
      assert.ok(lean.put.totalCount > 0);
      // Every answer is counted once: recorded, or an error (503 or a body that is not a Put answer).
      assert.equal(lean.put.totalCount + lean.errors, n);
      assert.equal(lean.errors, Math.floor((n + 7) / 10) + Math.floor((n + 4) / 10));
      n = 0;
      setLoadClient('node-http');
      const old = await runLoad(w);
      // node:http's path reads the status only, as before session 14.
      assert.equal(old.put.totalCount + old.errors, n);
      assert.equal(old.errors, Math.floor((n + 7) / 10));
      assert.match(old.firstError, /HTTP 503/);
    } finally {
      setLoadClient(before);
      await close(server);
    }
  },
);
