import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { createCa, issueCert } from '../util/certs.ts';
import { TlsAgent } from './tls-agent.ts';

const ca = await createCa({ commonName: 'tls-agent test CA' });
const cert = await issueCert(ca, { commonName: 'n1', server: true, ips: ['127.0.0.1'] });
let server: Server;
let port = 0;
let connections = 0;

before(async () => {
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(agent: TlsAgent): Promise<{ body: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ body, socket: req.socket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('requests over one TlsAgent reuse the connection (the pool name still matches) and verify with its CA', async () => {
  const agent = new TlsAgent({ keepAlive: true, maxSockets: 1, ca: ca.certPem });
  try {
    const before = connections;
    for (let i = 0; i < 5; i++) assert.equal((await get(agent)).body, 'ok');
    assert.equal(connections - before, 1, 'one handshake for five requests');
  } finally {
    agent.destroy();
  }
});

test('the pool is named by host, port and server name, not by the TLS material', () => {
  const agent = new TlsAgent({ keepAlive: true, ca: ca.certPem });
  const name = (o: object): string => agent.getName({ host: '127.0.0.1', port: 7001, servername: 'n1', ...o });
  assert.equal(name({ ca: 'x'.repeat(4000) }), name({ ca: 'y'.repeat(4000) }));
  assert.ok(name({ ca: 'x'.repeat(4000) }).length < 64, name({}));
  assert.notEqual(name({}), name({ port: 7002 }));
  assert.notEqual(name({}), name({ host: '127.0.0.2' }));
  assert.notEqual(name({}), name({ servername: 'n2' }));
  agent.destroy();
});

test("its sockets set TCP_NODELAY (node:https's own Agent leaves Nagle on for TLS)", async () => {
  const enabled: unknown[] = [];
  // A spy on the prototype: setNoDelay is net.Socket's, inherited by TLSSocket.
  const proto = TLSSocket.prototype as unknown as { setNoDelay: (this: TLSSocket, on?: boolean) => TLSSocket };
  const original = proto.setNoDelay;
  proto.setNoDelay = function (this: TLSSocket, on?: boolean) {
    if (on !== false) enabled.push(this);
    return original.call(this, on);
  };
  const agent = new TlsAgent({ keepAlive: true, ca: ca.certPem });
  try {
    const { socket } = await get(agent);
    assert.ok(enabled.includes(socket), 'the request went over a socket with TCP_NODELAY');
  } finally {
    delete (TLSSocket.prototype as { setNoDelay?: unknown }).setNoDelay;
    agent.destroy();
  }
  assert.equal(TLSSocket.prototype.setNoDelay, original, 'the spy is gone');
});
