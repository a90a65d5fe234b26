// DNS rebinding against a plaintext node (host-check.ts): a request whose Host (:authority) is a
// DNS name the node does not know is refused before any work; IP addresses, localhost, the node's
// own names and --allowed-hosts are answered. Before session 12 a page on evil.example rebound to
// 127.0.0.1 could read and write every key of a node started with --insecure.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { hostname } from 'node:os';
import { connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { FakeBackend } from './fake-backend.ts';
import { startApiServer } from './server.ts';
import { post } from './test-util.ts';
import { startSoloNode } from '../test-node.ts';

const GET = '/leasekv.v1.KV/Get';

async function server(allowedHosts?: readonly string[]) {
  const s = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    backend: new FakeBackend(),
    ...(allowedHosts === undefined ? {} : { allowedHosts }),
  });
  s.addRoute('GET', '/metrics', (_req, res) => res.end('up 1\n'));
  return s;
}

const withHost = (port: number, host: string, path = GET, method = 'POST') =>
  post(port, path, method === 'POST' ? '{"key":"k"}' : '', { 'content-type': 'application/json', host }, method);

/** One HTTP/1.0 request without a Host header, by hand (node:http always sends one). */
function noHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = netConnect(port, '127.0.0.1', () =>
      c.end(`POST ${GET} HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"key":"k"}`),
    );
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

describe('Host check on a plaintext port (DNS rebinding)', () => {
  test('a DNS name not allowed is refused with 403 permission_denied; addresses, localhost and allowed names are answered', async () => {
    const s = await server(['kv.example.com', '.svc.cluster.local']);
    try {
      const p = s.port;
      for (const host of [
        'evil.example',
        `evil.example:${p}`,
        `evil.example.:${p}`,
        `kv.example.com.evil.example:${p}`,
      ]) {
        const r = await withHost(p, host);
        assert.equal(r.status, 403, host);
        assert.equal(JSON.parse(r.body).code, 'permission_denied');
        assert.match(JSON.parse(r.body).message, /is not a name of this node.*DNS rebinding.*--allowed-hosts/);
        assert.equal(r.headers['connection'], 'close');
      }
      // The extra routes (metrics, dashboard, SSE watch) too.
      assert.equal((await withHost(p, `evil.example:${p}`, '/metrics', 'GET')).status, 403);
      assert.equal((await withHost(p, `evil.example:${p}`, '/v1/watch?key=k', 'GET')).status, 403);
      for (const host of [
        `127.0.0.1:${p}`,
        `[::1]:${p}`,
        '10.1.2.3',
        `localhost:${p}`,
        `LocalHost.:${p}`,
        `app.localhost:${p}`,
        `kv.example.com:${p}`,
        `KV.Example.COM.:${p}`,
        `leasekv-0.leasekv.ns.svc.cluster.local:${p}`,
      ])
        assert.equal((await withHost(p, host)).status, 200, host);
      assert.match(await noHost(p), /^HTTP\/1.1 200/);
    } finally {
      await s.close();
    }
  });

  test('HTTP/2: :authority is checked; gRPC gets status 7 in a trailers-only answer', async () => {
    const s = await server([]);
    const session = h2connect(`http://127.0.0.1:${s.port}`);
    try {
      const ask = (authority: string, contentType: string) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const r = session.request({
            ':method': 'POST',
            ':path': GET,
            ':authority': authority,
            'content-type': contentType,
          });
          r.on('response', (h) => resolve(h)).on('error', reject);
          r.resume();
          r.end(contentType === 'application/json' ? '{"key":"k"}' : Buffer.alloc(5));
        });
      assert.equal((await ask('evil.example:7001', 'application/json'))[':status'], 403);
      const grpc = await ask('evil.example:7001', 'application/grpc');
      assert.equal(grpc['grpc-status'], '7');
      assert.match(String(grpc['grpc-message']), /not a name of this node/);
      assert.equal((await ask(`127.0.0.1:${s.port}`, 'application/json'))[':status'], 200);
    } finally {
      session.destroy();
      await s.close();
    }
  });

  test('* allows any name; no list (TLS ports, tests) checks nothing', async () => {
    for (const s of [await server(['*']), await server()]) {
      try {
        assert.equal((await withHost(s.port, 'evil.example')).status, 200);
      } finally {
        await s.close();
      }
    }
  });
});

test('a plaintext node answers its own names and this machine’s name, refuses another (serve --insecure)', async () => {
  const n = await startSoloNode('host-check', { allowedHosts: 'kv.internal', clientAddrs: 'n1=db1.example.net:7001' });
  try {
    await n.call('Put', { key: 'k', value: 'v' });
    const at = (host: string) => withHost(n.port, host);
    assert.equal((await at(`evil.example:${n.port}`)).status, 403);
    for (const host of [`127.0.0.1:${n.port}`, `${hostname()}:${n.port}`, 'kv.internal', 'db1.example.net:7001'])
      assert.equal((await at(host)).status, 200, host);
  } finally {
    await n.stop();
  }
});
