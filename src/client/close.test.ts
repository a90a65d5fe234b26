// LeasekvClient.close(): a Promise that resolves once the client's keep-alive connections are
// closed; later calls are refused; a second close is harmless.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { LeasekvClient, LeasekvError } from './index.ts';

/** An HTTP server answering every request with an empty Get result; `sockets` are its connections. */
async function getServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"found":false,"index":"1","readMode":"READ_MODE_LEASE"}');
    });
  });
  server.on('connection', (s: Socket) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

test('close() resolves after the connections closed; later calls reject with canceled', async () => {
  const { server, port, sockets } = await getServer();
  try {
    const kv = new LeasekvClient({ endpoints: [`127.0.0.1:${port}`], sessions: false });
    await Promise.all([kv.get('a'), kv.get('b'), kv.get('c')]);
    assert.ok(sockets.length >= 1);
    const serverSideClosed = Promise.all(
      sockets.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())))),
    );
    const closing = kv.close();
    assert.ok(closing instanceof Promise, 'close() returns a Promise');
    assert.equal(await closing, undefined);
    // The client's side is closed, so the server sees every connection end (bounded by the test timeout).
    await serverSideClosed;
    await assert.rejects(kv.get('a'), (e: unknown) => e instanceof LeasekvError && e.code === 'canceled');
    await kv.close();
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('close() of a client that never connected resolves', async () => {
  const kv = new LeasekvClient({ endpoints: ['127.0.0.1:1'] });
  await kv.close();
  await assert.rejects(kv.put('a', '1'), (e: unknown) => e instanceof LeasekvError && e.code === 'canceled');
});
