// Mutual TLS on peer links (issue 15): real handshakes on 127.0.0.1. A member presenting a
// certificate of another CA, an expired or a not-yet-valid one is refused at the handshake, with the
// cause on the dialler's side and one line (not one per redial) on the dialled side.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCa, issueCert, type CertPem } from '../util/certs.ts';
import { PeerTransport, type PeerTransportOptions } from './peer-transport.ts';
import type { TlsMaterial } from './options.ts';
import { captureLogger, heartbeat, type LogLine } from './test-helpers.ts';
import { waitFor } from '../testkit/wait.ts';

const DAY = 86_400_000;
const ca = await createCa({ commonName: 'test peer CA' });
const otherCa = await createCa({ commonName: 'another CA' });
const leaf = (c: CertPem, cn: string, o: { notBefore?: Date; notAfter?: Date } = {}): Promise<CertPem> =>
  issueCert(c, { commonName: cn, server: true, client: true, ips: ['127.0.0.1'], ...o });
const good = { a: await leaf(ca, 'a'), b: await leaf(ca, 'b') };

function ctx(cert: CertPem, caPem = ca.certPem): TlsMaterial {
  return { cert: cert.certPem, key: cert.keyPem, ca: caPem };
}

interface Peer {
  t: PeerTransport;
  logs: LogLine[];
  got: number;
}

/** Two transports a and b; `b`'s context is a function so a test can change it (a reload). */
async function pair(
  a: () => TlsMaterial | null,
  b: () => TlsMaterial | null,
  extra: Partial<PeerTransportOptions> = {},
) {
  const make = async (id: string, other: string, c: () => TlsMaterial | null): Promise<Peer> => {
    const logs: LogLine[] = [];
    const first = c();
    const t = new PeerTransport({
      selfId: id,
      clusterId: 'test-cluster',
      listenHost: '127.0.0.1',
      listenPort: 0,
      peers: new Map([[other, { host: '127.0.0.1', port: 1 }]]),
      maxFrameBytes: 1 << 20,
      maxQueuedBytesPerPeer: 1 << 20,
      reconnectBackoffMinMs: 10,
      reconnectBackoffMaxMs: 20,
      logger: captureLogger(logs),
      tls: first === null ? null : { current: () => c() as TlsMaterial },
      ...extra,
    });
    const p: Peer = { t, logs, got: 0 };
    t.onMessage(() => p.got++);
    await t.start();
    return p;
  };
  const pa = await make('a', 'b', a);
  const pb = await make('b', 'a', b);
  pa.t.setPeerAddress('b', { host: '127.0.0.1', port: pb.t.port });
  pb.t.setPeerAddress('a', { host: '127.0.0.1', port: pa.t.port });
  return { a: pa, b: pb, stop: () => Promise.all([pa.t.stop(), pb.t.stop()]) };
}

const lines = (p: Peer, msg: RegExp): LogLine[] => p.logs.filter((l) => l.level === 'warn' && msg.test(l.msg));
const text = (ls: readonly LogLine[]): string => JSON.stringify(ls);

test('members with certificates of the peer CA exchange messages over mutual TLS', async () => {
  const { a, b, stop } = await pair(
    () => ctx(good.a),
    () => ctx(good.b),
  );
  try {
    a.t.send([heartbeat('a', 'b', 1)]);
    b.t.send([heartbeat('b', 'a', 1)]);
    await waitFor('both directions over TLS', 5000, () => a.got === 1 && b.got === 1, { intervalMs: 2 });
    assert.equal(a.t.stats().refusedConnections + b.t.stats().refusedConnections, 0);
  } finally {
    await stop();
  }
});

for (const [name, cert, why] of [
  ['another CA', await leaf(otherCa, 'b'), /not signed by the cluster's peer CA/],
  [
    'an expired certificate',
    await leaf(ca, 'b', { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) }),
    /expired on/,
  ],
  [
    'a not-yet-valid certificate',
    await leaf(ca, 'b', { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) }),
    /not valid before/,
  ],
] as const) {
  test(`a member presenting ${name} is refused at the handshake, logged once on the refusing side`, async () => {
    // b trusts the right CA but presents the bad certificate.
    const { a, b, stop } = await pair(
      () => ctx(good.a),
      () => ctx(cert),
    );
    try {
      b.t.send([heartbeat('b', 'a', 1)]);
      a.t.send([heartbeat('a', 'b', 1)]);
      // Many redials (backoff 10–20 ms) in this time: still one line each side for the cause.
      await waitFor('several refused redials', 5000, () => a.t.stats().refusedConnections >= 5, { intervalMs: 2 });
      await waitFor(
        'b fails',
        5000,
        () => b.t.stats().peers['a']?.errors !== undefined && (b.t.stats().peers['a']?.errors ?? 0) >= 5,
        { intervalMs: 2 },
      );
      assert.equal(a.got, 0, 'nothing from the untrusted member was delivered');
      assert.equal(b.got, 0, 'nothing was sent to the untrusted member');
      const refused = lines(a, /^refused peer connection$/);
      assert.equal(refused.length, 1, text(a.logs));
      assert.match(text(refused), why);
      // The dialler (b) is told why in the refusal, once.
      const told = lines(b, /refused this node's connection/);
      assert.equal(told.length, 1, text(b.logs));
      assert.match(text(told), why);
      // a dialling b: a does not trust b's certificate either, and says so once.
      const distrust = lines(a, /error sending to node b/);
      assert.equal(distrust.length, 1, text(a.logs));
      assert.match(text(distrust), why);
    } finally {
      await stop();
    }
  });
}

test('a plaintext member dialling a TLS peer port is refused with the reason, logged once', async () => {
  const { a, b, stop } = await pair(
    () => ctx(good.a),
    () => null,
  );
  try {
    b.t.send([heartbeat('b', 'a', 1)]);
    await waitFor('several refused redials', 5000, () => a.t.stats().refusedConnections >= 5, { intervalMs: 2 });
    assert.equal(a.got, 0);
    assert.match(text(lines(b, /refused this node's connection/)), /this peer port requires TLS/);
    assert.equal(lines(b, /refused this node's connection/).length, 1, text(b.logs));
    assert.equal(lines(a, /^refused peer connection$/).length, 1, text(a.logs));
    // a (TLS) dialling b (plaintext): a's error names the likely cause.
    a.t.send([heartbeat('a', 'b', 1)]);
    await waitFor('a logs its failed dial', 5000, () => lines(a, /error sending to node b/).length === 1, {
      intervalMs: 2,
    });
    assert.match(text(lines(a, /error sending to node b/)), /does not speak TLS|socket|ECONNRESET|TLS/);
    await waitFor('b logs the TLS dial once', 5000, () => lines(b, /^refused peer connection$/).length === 1, {
      intervalMs: 2,
    });
    assert.match(text(lines(b, /^refused peer connection$/)), /this peer port is plaintext/);
  } finally {
    await stop();
  }
});

test('the context is read for each new connection: a certificate swapped in is used by the next handshake', async () => {
  let bMaterial = ctx(await leaf(otherCa, 'b'));
  const { a, b, stop } = await pair(
    () => ctx(good.a),
    () => bMaterial,
  );
  try {
    b.t.send([heartbeat('b', 'a', 1)]);
    await waitFor('refused with the old certificate', 5000, () => a.t.stats().refusedConnections >= 2, {
      intervalMs: 2,
    });
    bMaterial = ctx(good.b); // the reload: new handshakes present the new certificate
    await waitFor('accepted with the new certificate', 5000, () => a.got >= 1, { intervalMs: 2 });
  } finally {
    await stop();
  }
});
