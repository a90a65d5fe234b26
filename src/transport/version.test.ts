// Peer protocol negotiation across builds (version.ts, docs/operations.md "Upgrading"). The legacy
// bytes below were produced by the codec of main at 61f8206 (peer protocol 2, the build before this
// negotiation), so a build of protocol 2 is played byte for byte; builds of later versions are played
// by transports given another protocolVersions range.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createConnection, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { crc32 as zcrc } from 'node:zlib';
import type { Message } from '../raft/types.ts';
import { waitFor } from '../testkit/wait.ts';
import { decodeFrameBody, encodeFrame, FRAME_LAYOUT_VERSION, PROTOCOL_VERSION, type Frame } from './codec.ts';
import { FrameDecoder } from './frame-decoder.ts';
import { PeerTransport, type PeerTransportOptions } from './peer-transport.ts';
import { captureLogger, heartbeat, type LogLine } from './test-helpers.ts';
import { clusterProtocolVersion, fallbackVersion, nextHello } from './version.ts';

const LEGACY = {
  /** hello from n1 to n2, cluster token 'tok', no identity. */
  hello: '00000012020103746f6b026e31026e320000faa0d189',
  helloOk: '0000000602029de11151',
  /** What a protocol-2 build answers to a hello of version 3. */
  refuse:
    '0000003202032a756e737570706f727465642070726f746f636f6c2076657273696f6e203320286d696e6520697320322900f8d00257',
  /** heartbeat('n1', 'n2', 5) with term 1. */
  msg: '0000001b020403026e31026e3201000000408c2000000000000500bf0a3694',
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const body = (h: string): Uint8Array => Buffer.from(h, 'hex').subarray(4);

test('version-2 frames are byte for byte what a protocol-2 build writes and reads', () => {
  const hello: Frame = {
    kind: 'hello',
    version: 2,
    minVersion: 2,
    software: '',
    clusterId: 'tok',
    from: 'n1',
    to: 'n2',
    clusterUid: '',
    incarnation: '',
  };
  assert.equal(hex(encodeFrame(hello)), LEGACY.hello);
  assert.deepEqual(decodeFrameBody(body(LEGACY.hello)), hello);
  const ok: Frame = { kind: 'hello-ok', version: 2, minVersion: 2, maxVersion: 2, software: '' };
  assert.equal(hex(encodeFrame(ok)), LEGACY.helloOk);
  assert.equal(hex(encodeFrame({ kind: 'msg', msg: heartbeat('n1', 'n2', 5) })), LEGACY.msg);
  assert.equal(FRAME_LAYOUT_VERSION, 2);
  const refuse = decodeFrameBody(body(LEGACY.refuse));
  assert.ok(refuse.kind === 'refuse');
  assert.equal(fallbackVersion(refuse.reason, PROTOCOL_VERSION, 2), 2);
  assert.equal(fallbackVersion(refuse.reason, 2, 2), null, 'no loop once 2 was offered');
  assert.equal(fallbackVersion(refuse.reason, 4, 3), null, 'a build that no longer speaks 2 does not fall back');
});

test('a hello of a newer version is read (its version-3 fields), so the dialer can be answered', () => {
  const h = encodeFrame({
    kind: 'hello',
    version: 7,
    minVersion: 3,
    software: '9.0.0',
    clusterId: 'tok',
    from: 'n1',
    to: 'n2',
    clusterUid: 'u',
    incarnation: 'i',
  });
  // A newer version may add fields after version 3's: append some and fix up length and CRC.
  const extra = Buffer.concat([Buffer.from(h.subarray(4, h.length - 4)), Buffer.from([1, 2, 3])]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(Number(BigInt.asUintN(32, BigInt(zcrc(extra)))));
  const f = decodeFrameBody(Buffer.concat([extra, crc]));
  assert.ok(f.kind === 'hello');
  assert.deepEqual([f.version, f.minVersion, f.software, f.from], [7, 3, '9.0.0', 'n1']);
  // Any other frame of a version this build does not speak is refused.
  const m = Buffer.from(encodeFrame({ kind: 'msg', msg: heartbeat('n1', 'n2', 1) }).subarray(4));
  m[0] = 4;
  m.writeUInt32BE(zcrc(m.subarray(0, m.length - 4)), m.length - 4);
  assert.throws(() => decodeFrameBody(m), /unsupported protocol version 4 \(this build speaks 2 to 3\)/);
});

interface Node {
  t: PeerTransport;
  got: Message[];
  logs: LogLine[];
}

async function pair(a: Partial<PeerTransportOptions>, b: Partial<PeerTransportOptions>): Promise<[Node, Node]> {
  const nodes: Node[] = [];
  for (const [id, extra] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const logs: LogLine[] = [];
    const t = new PeerTransport({
      selfId: id,
      clusterId: 'tok',
      listenHost: '127.0.0.1',
      listenPort: 0,
      peers: new Map([[id === 'a' ? 'b' : 'a', { host: '127.0.0.1', port: 1 }]]),
      maxFrameBytes: 1024 * 1024,
      maxQueuedBytesPerPeer: 1024 * 1024,
      reconnectBackoffMinMs: 10,
      reconnectBackoffMaxMs: 50,
      logger: captureLogger(logs),
      ...extra,
    });
    const got: Message[] = [];
    t.onMessage((m) => got.push(m));
    await t.start();
    nodes.push({ t, got, logs });
  }
  const [x, y] = nodes as [Node, Node];
  x.t.setPeerAddress('b', { host: '127.0.0.1', port: y.t.port });
  y.t.setPeerAddress('a', { host: '127.0.0.1', port: x.t.port });
  return [x, y];
}

test('this build and a simulated next one (3..4) connect at 3 and say which build the peer is', async () => {
  const [a, b] = await pair(
    { softwareVersion: '0.2.0' },
    { softwareVersion: '0.3.0', protocolVersions: { min: 3, max: 4 } },
  );
  try {
    a.t.send([heartbeat('a', 'b', 1)]);
    b.t.send([heartbeat('b', 'a', 2)]);
    await waitFor('messages both ways', 5000, () => a.got.length > 0 && b.got.length > 0);
    const sa = a.t.stats().peers['b'];
    const sb = b.t.stats().peers['a'];
    assert.deepEqual([sa?.protocolVersion, sa?.software], [3, '0.3.0']);
    assert.deepEqual([sb?.protocolVersion, sb?.software], [3, '0.2.0']);
    assert.ok(a.logs.some((l) => l.msg === 'connected to node b (leasekv 0.3.0, peer protocol 3)'));
  } finally {
    await Promise.all([a.t.stop(), b.t.stop()]);
  }
});

test('builds two versions apart refuse each other, naming what to upgrade, and keep serving', async () => {
  const [a, b] = await pair(
    { softwareVersion: '0.2.0' },
    { softwareVersion: '0.4.0', protocolVersions: { min: 4, max: 5 } },
  );
  try {
    a.t.send([heartbeat('a', 'b', 1)]);
    b.t.send([heartbeat('b', 'a', 2)]);
    const want =
      'peer protocol mismatch: node b (leasekv 0.4.0) speaks peer protocol 4 to 5, this node (leasekv 0.2.0) speaks 2 to 3; upgrade this node first';
    await waitFor('refusals both ways', 5000, () =>
      [a, b].every((n) => n.logs.some((l) => JSON.stringify(l.fields).includes('peer protocol mismatch'))),
    );
    assert.ok(a.logs.some((l) => (l.fields as { reason?: string }).reason?.startsWith(want) === true));
    assert.deepEqual([a.got.length, b.got.length], [0, 0]);
    assert.ok(a.t.stats().refusedConnections > 0 && b.t.stats().refusedConnections > 0);
  } finally {
    await Promise.all([a.t.stop(), b.t.stop()]);
  }
});

/** A peer port that answers exactly as main at 61f8206 did: version-2 frames only. */
async function legacyAcceptor(): Promise<{ port: number; seen: Frame[]; close(): void }> {
  const seen: Frame[] = [];
  const socks: Socket[] = [];
  const server = createServer((sock) => {
    socks.push(sock);
    let greeted = false;
    const decoder = new FrameDecoder(1024 * 1024);
    sock.on('error', () => undefined);
    sock.on('data', (chunk) =>
      decoder.push(chunk, (f) => {
        seen.push(f);
        if (greeted) return;
        if (f.kind === 'hello' && f.version !== 2) return void sock.end(Buffer.from(LEGACY.refuse, 'hex'));
        greeted = true;
        sock.write(Buffer.from(LEGACY.helloOk, 'hex'));
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, seen, close: () => (socks.forEach((s) => s.destroy()), server.close()) };
}

test('against a protocol-2 build this build falls back to a version-2 hello and its messages flow', async () => {
  const old = await legacyAcceptor();
  const logs: LogLine[] = [];
  const t = new PeerTransport({
    selfId: 'n1',
    clusterId: 'tok',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map([['n2', { host: '127.0.0.1', port: old.port }]]),
    maxFrameBytes: 1024 * 1024,
    maxQueuedBytesPerPeer: 1024 * 1024,
    reconnectBackoffMinMs: 10,
    reconnectBackoffMaxMs: 50,
    logger: captureLogger(logs),
    softwareVersion: '0.2.0',
  });
  await t.start();
  try {
    t.send([heartbeat('n1', 'n2', 5)]);
    await waitFor('the message arrives', 5000, () => old.seen.some((f) => f.kind === 'msg'));
    const hellos = old.seen.filter((f) => f.kind === 'hello').map((f) => (f.kind === 'hello' ? f.version : 0));
    assert.deepEqual(hellos, [3, 2]);
    assert.equal(t.stats().peers['n2']?.protocolVersion, 2);
    assert.ok(logs.some((l) => l.msg === 'node n2 speaks peer protocol 2; using it'));
    assert.ok(
      logs.some((l) => l.msg === 'connected to node n2 (a leasekv of peer protocol 2 (0.1.x), peer protocol 2)'),
    );
  } finally {
    await t.stop();
    old.close();
  }
});

test('a protocol-2 dialer is answered with the version-2 hello-ok it reads, and its messages delivered', async () => {
  const got: Message[] = [];
  const t = new PeerTransport({
    selfId: 'n2',
    clusterId: 'tok',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map([['n1', { host: '127.0.0.1', port: 1 }]]),
    maxFrameBytes: 1024 * 1024,
    maxQueuedBytesPerPeer: 1024 * 1024,
    reconnectBackoffMinMs: 1000,
    reconnectBackoffMaxMs: 1000,
  });
  t.onMessage((m) => got.push(m));
  await t.start();
  const s = createConnection({ host: '127.0.0.1', port: t.port });
  const answer: Buffer[] = [];
  s.on('data', (d: Buffer) => answer.push(d));
  s.on('error', () => undefined);
  try {
    s.write(Buffer.from(LEGACY.hello, 'hex'));
    await waitFor('hello-ok', 5000, () => Buffer.concat(answer).length >= 10);
    assert.equal(hex(Buffer.concat(answer)), LEGACY.helloOk);
    s.write(Buffer.from(LEGACY.msg, 'hex'));
    await waitFor('delivered', 5000, () => got.length === 1);
    assert.deepEqual(got[0], heartbeat('n1', 'n2', 5));
    assert.equal(t.stats().peers['n1']?.protocolVersion, 2);
  } finally {
    s.destroy();
    await t.stop();
  }
});

test('the cluster version is the lowest version spoken with any member, the oldest while one is unknown', () => {
  const mine = { min: 2, max: 3 };
  assert.equal(clusterProtocolVersion(mine, []), 3);
  assert.equal(clusterProtocolVersion(mine, [{ protocolVersion: 3 }, { protocolVersion: 3 }]), 3);
  assert.equal(clusterProtocolVersion(mine, [{ protocolVersion: 3 }, { protocolVersion: 2 }]), 2);
  assert.equal(clusterProtocolVersion(mine, [{ protocolVersion: 3 }, { protocolVersion: 0 }]), 2);
});

test('a fallback to version 2 is for the next dial only; after it the newest version is offered again', () => {
  const fell = { version: 2, fellBack: true };
  const used = nextHello(fell, 3); // the fallback dial's connection ended (or failed: the peer restarting)
  assert.deepEqual(used, { version: 2, fellBack: false });
  assert.deepEqual(nextHello(used, 3), { version: 3, fellBack: false });
});
