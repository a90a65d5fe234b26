import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { startProxy } from './proxy.ts';
import { waitFor } from '../testkit/wait.ts';

async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr !== null ? addr.port : 0 };
}

async function connect(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return s;
}

test('proxy delays each direction by at least the set delay and preserves order', async () => {
  const echo = await echoServer();
  const proxy = await startProxy({
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort: echo.port,
    delayMs: 40,
  });
  const s = await connect(proxy.port);
  try {
    let received = '';
    s.on('data', (d: Buffer) => (received += d.toString()));
    const start = performance.now();
    s.write('ping');
    await waitFor('echo', 5000, () => received === 'ping', { intervalMs: 2 });
    // Two crossings (there and back), each delayed at least 40 ms. No upper bound (CI timing).
    assert.ok(performance.now() - start >= 80 - 1, `round trip ${performance.now() - start} ms`);
    received = '';
    proxy.setDelayMs(5);
    const parts = Array.from({ length: 2000 }, (_, i) => `${i},`);
    for (const p of parts) s.write(p);
    await waitFor('2000 small writes', 5000, () => received.length === parts.join('').length, { intervalMs: 2 });
    assert.equal(received, parts.join(''));
  } finally {
    s.destroy();
    await proxy.close();
    echo.server.close();
  }
});

test('proxy partition: open connections are cut, new ones refused, and healing restores service', async () => {
  const echo = await echoServer();
  const proxy = await startProxy({
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort: echo.port,
  });
  try {
    const s = await connect(proxy.port);
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => {});
    await waitFor('connection through the proxy', 5000, () => proxy.connections === 2, { intervalMs: 2 });
    proxy.setBlocked(true);
    await waitFor('existing connection cut', 5000, () => closed, { intervalMs: 2 });
    const s2 = createConnection({ host: '127.0.0.1', port: proxy.port });
    s2.on('error', () => {});
    let got = '';
    s2.on('data', (d: Buffer) => (got += d.toString()));
    s2.write('lost');
    await new Promise<void>((r) => s2.once('close', () => r()));
    assert.equal(got, '', 'nothing forwarded while blocked');
    proxy.setBlocked(false);
    const s3 = await connect(proxy.port);
    let got3 = '';
    s3.on('data', (d: Buffer) => (got3 += d.toString()));
    s3.write('back');
    await waitFor('echo after healing', 5000, () => got3 === 'back', { intervalMs: 2 });
    s3.destroy();
  } finally {
    await proxy.close();
    echo.server.close();
  }
});
