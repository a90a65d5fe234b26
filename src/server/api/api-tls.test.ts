// TLS on the client port (issue 15): real handshakes. HTTP/1.1 and HTTP/2 (ALPN) on one port; a
// plaintext client told to use TLS in its own protocol; the client certificate reported per request
// (verified, or why not); new handshakes use the material in force (a reload).
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { createCa, issueCert, type CertPem } from '../../util/certs.ts';
import { clientSecurityOf } from './client-security.ts';
import { FakeBackend } from './fake-backend.ts';
import type { ClientTlsMaterial } from './front.ts';
import { startApiServer, type ApiServer } from './server.ts';
import { post } from './test-util.ts';

const ca = await createCa({ commonName: 'client-port CA' });
const otherCa = await createCa({ commonName: 'another CA' });
const serverCert = await issueCert(ca, { commonName: 'n1', server: true, ips: ['127.0.0.1'] });
const alice = await issueCert(ca, { commonName: 'alice', client: true });
const mallory = await issueCert(otherCa, { commonName: 'mallory', client: true });

const material = (c: CertPem): ClientTlsMaterial => ({
  cert: Buffer.from(c.certPem),
  key: Buffer.from(c.keyPem),
  ca: Buffer.from(ca.certPem),
});

interface Answer {
  status: number;
  body: string;
}

function get(port: number, path: string, client?: CertPem): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        ca: ca.certPem,
        agent: false,
        ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('TLS on the client port', () => {
  let server: ApiServer;
  let current = material(serverCert);
  before(async () => {
    server = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      backend: new FakeBackend(),
      tls: { current: () => current },
      extraRoutes: [
        {
          method: 'GET',
          path: '/whoami',
          handler: (req, res) => res.end(JSON.stringify(clientSecurityOf(req))),
        },
      ],
    });
  });
  after(() => server.close());

  test('HTTP/1.1 over TLS answers, and reports the request as TLS without a client certificate', async () => {
    const a = await get(server.port, '/whoami');
    assert.equal(a.status, 200);
    assert.deepEqual(JSON.parse(a.body), { remote: '127.0.0.1', tls: true, clientCert: null, clientCertError: null });
  });

  test('a client certificate of the CA is reported verified, with its subject', async () => {
    const a = JSON.parse((await get(server.port, '/whoami', alice)).body) as ReturnType<typeof clientSecurityOf>;
    assert.equal(a.clientCert?.commonName, 'alice');
    assert.equal(a.clientCert?.subject, 'CN=alice');
    assert.match(a.clientCert?.fingerprint256 ?? '', /^[0-9A-F:]{95}$/);
    assert.equal(a.clientCertError, null);
  });

  test("another CA's client certificate is not verified, and the reason is reported", async () => {
    const a = JSON.parse((await get(server.port, '/whoami', mallory)).body) as ReturnType<typeof clientSecurityOf>;
    assert.equal(a.tls, true);
    assert.equal(a.clientCert, null);
    assert.match(
      a.clientCertError ?? '',
      /^it is not signed by the CA this node trusts \(--tls-ca\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/,
    );
  });

  test('HTTP/2 (gRPC, Connect) is chosen by ALPN on the same port', async () => {
    const session = h2connect(`https://127.0.0.1:${server.port}`, { ca: ca.certPem });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const s = session.request({
          ':method': 'POST',
          ':path': '/leasekv.v1.KV/Status',
          'content-type': 'application/json',
        });
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (c: string) => (text += c));
        s.on('end', () => resolve(text));
        s.on('error', reject);
        s.end('{}');
      });
      assert.match(body, /"role"/);
      assert.equal(session.alpnProtocol, 'h2');
      // The extra routes (dashboard, /metrics, SSE) answer over HTTP/2 too, and the request's security is known.
      const who = await new Promise<string>((resolve, reject) => {
        const s = session.request({ ':method': 'GET', ':path': '/whoami' });
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (c: string) => (text += c));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      assert.deepEqual(JSON.parse(who), { remote: '127.0.0.1', tls: true, clientCert: null, clientCertError: null });
    } finally {
      session.close();
    }
  });

  test('plaintext HTTP/1.1 is answered 400 with a JSON error that says to use TLS', async () => {
    const a = await post(server.port, '/leasekv.v1.KV/Get', '{"key":"a"}');
    assert.equal(a.status, 400);
    assert.deepEqual(Object.keys(JSON.parse(a.body) as object), ['code', 'message']);
    assert.match(a.body, /this port requires TLS: use https:\/\//);
  });

  test('plaintext HTTP/2 (h2c, gRPC without TLS) gets GOAWAY INADEQUATE_SECURITY saying to use TLS', async () => {
    const session = h2connect(`http://127.0.0.1:${server.port}`);
    const goaway = await new Promise<{ code: number; debug: string }>((resolve) => {
      session.on('goaway', (code, _last, data) => resolve({ code, debug: data?.toString() ?? '' }));
      session.on('error', () => undefined);
    });
    session.destroy();
    assert.equal(goaway.code, 0xc);
    assert.match(goaway.debug, /this port requires TLS/);
  });

  test('new handshakes use the material in force (a reload); a raw TLS connection sees the new certificate', async () => {
    const serialOf = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect(
          { host: '127.0.0.1', port: server.port, ca: ca.certPem, ALPNProtocols: ['http/1.1'] },
          () => {
            resolve(s.getPeerCertificate().serialNumber);
            s.destroy();
          },
        );
        s.on('error', reject);
      });
    const before = await serialOf();
    const renewed = await issueCert(ca, { commonName: 'n1', server: true, ips: ['127.0.0.1'] });
    current = material(renewed);
    const afterReload = await serialOf();
    assert.notEqual(afterReload, before);
    assert.equal((await get(server.port, '/whoami')).status, 200);
  });
});
