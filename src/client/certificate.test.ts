// A node certificate the client refuses is a set-up error, not a passing fault: the call fails with
// CertificateError once every endpoint has refused, instead of retrying until the deadline (the
// session 13 outside-in audit saw 13 attempts in 5 s, each naming the cause). Nothing was sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createCa, issueCert, type CertPem } from '../util/certs.ts';
import { CertificateError, LeasekvClient, UnavailableError } from './index.ts';

/** An https server counting its TCP connections; answers every request with `body`. */
async function node(cert: CertPem, body: string): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  server.on('connection', () => n++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, connections: () => n };
}

// Long enough that a client retrying until the deadline fails the test by its error's class.
const DEADLINE_MS = 20_000;

test('a certificate from another CA: get and put fail at once with CertificateError, one connection, outcome known', async () => {
  const ca = await createCa({ commonName: 'the cluster CA' });
  const other = await createCa({ commonName: 'another CA' });
  const n1 = await node(await issueCert(ca, { commonName: 'n1', server: true, ips: ['127.0.0.1'] }), '{}');
  const kv = new LeasekvClient({
    endpoints: [`https://127.0.0.1:${n1.port}`],
    deadlineMs: DEADLINE_MS,
    tls: { ca: other.certPem },
  });
  try {
    for (const call of [() => kv.get('k'), () => kv.put('k', 'v')]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof CertificateError, String(e));
        assert.ok(e instanceof UnavailableError, 'still an UnavailableError for older handlers');
        assert.equal(e.code, 'unavailable');
        assert.equal(e.outcomeUnknown, false, 'refused in the handshake: nothing was sent');
        assert.match(e.message, /certificate was refused \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*--cacert/);
        return true;
      });
    }
    assert.equal(n1.connections(), 2, 'one handshake per call, no retries');
  } finally {
    await kv.close();
    n1.server.close();
  }
});

test('a certificate that does not name the host: CertificateError saying so', async () => {
  const ca = await createCa({ commonName: 'the cluster CA' });
  const n1 = await node(await issueCert(ca, { commonName: 'n1', server: true, ips: ['127.0.0.2'] }), '{}');
  const kv = new LeasekvClient({
    endpoints: [`https://127.0.0.1:${n1.port}`],
    deadlineMs: DEADLINE_MS,
    tls: { ca: ca.certPem },
  });
  try {
    await assert.rejects(
      kv.get('k'),
      (e: unknown) => e instanceof CertificateError && /does not name the endpoint's host/.test(e.message),
    );
  } finally {
    await kv.close();
    n1.server.close();
  }
});

test('one endpoint refused, another verifies: the call is answered by the other', async () => {
  const ca = await createCa({ commonName: 'the cluster CA' });
  const other = await createCa({ commonName: 'another CA' });
  const bad = await node(await issueCert(other, { commonName: 'n1', server: true, ips: ['127.0.0.1'] }), '{}');
  const good = await node(
    await issueCert(ca, { commonName: 'n2', server: true, ips: ['127.0.0.1'] }),
    '{"found":true,"value":"v"}',
  );
  const kv = new LeasekvClient({
    endpoints: [`https://127.0.0.1:${bad.port}`, `https://127.0.0.1:${good.port}`],
    deadlineMs: DEADLINE_MS,
    tls: { ca: ca.certPem },
  });
  try {
    const r = await kv.get('k', { consistency: 'stale' });
    assert.equal(r.value, 'v');
    assert.equal(bad.connections(), 1);
  } finally {
    await kv.close();
    bad.server.close();
    good.server.close();
  }
});

test('every endpoint refused: CertificateError after one handshake each; a watch ends with it too', async () => {
  const ca = await createCa({ commonName: 'the cluster CA' });
  const other = await createCa({ commonName: 'another CA' });
  const nodes = [
    await node(await issueCert(other, { commonName: 'n1', server: true, ips: ['127.0.0.1'] }), '{}'),
    await node(await issueCert(other, { commonName: 'n2', server: true, ips: ['127.0.0.1'] }), '{}'),
  ];
  const kv = new LeasekvClient({
    endpoints: nodes.map((n) => `https://127.0.0.1:${n.port}`),
    deadlineMs: DEADLINE_MS,
    tls: { ca: ca.certPem },
  });
  try {
    await assert.rejects(kv.get('k'), CertificateError);
    assert.deepEqual(
      nodes.map((n) => n.connections()),
      [1, 1],
    );
    // With and without a start revision (a watch without one first asks a member's Status).
    for (const startRevision of [undefined, 5]) {
      const w = kv.watch('k', startRevision === undefined ? {} : { startRevision });
      await assert.rejects(w.next(), CertificateError);
    }
  } finally {
    await kv.close();
    for (const n of nodes) n.server.close();
  }
});
