import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import type { Message } from '../raft/types.ts';
import { encodeFrame } from './codec.ts';
import { PeerTransport, TransportConfigError } from './peer-transport.ts';
import { captureLogger, get, heartbeat, startMesh, type LogLine } from './test-helpers.ts';
import { waitFor, sleep } from '../testkit/wait.ts';

test('three transports exchange messages in order, with entries and stats', async () => {
  const nodes = await startMesh(['n1', 'n2', 'n3']);
  try {
    const n1 = get(nodes, 'n1');
    const n2 = get(nodes, 'n2');
    const n3 = get(nodes, 'n3');
    const withEntries: Message = {
      ...heartbeat('n1', 'n2', 0),
      entries: [{ index: 1, term: 1, type: 0, data: Uint8Array.from([1, 2, 3]) }],
    } as Message;
    n1.t.send([withEntries, heartbeat('n1', 'n3', 1)]);
    n2.t.send([heartbeat('n2', 'n1', 2), heartbeat('n2', 'n3', 3)]);
    n3.t.send([heartbeat('n3', 'n1', 4)]);
    await waitFor('deliveries', 5000, () => n1.got.length === 2 && n2.got.length === 1 && n3.got.length === 2, {
      intervalMs: 2,
    });
    assert.deepEqual(n2.got[0], structuredClone(withEntries));
    assert.deepEqual(n1.got.map((m) => m.from).sort(), ['n2', 'n3']);
    const s = n1.t.stats().peers;
    assert.equal(s['n2']?.msgsSent, 1);
    assert.equal(s['n3']?.msgsSent, 1);
    assert.equal(s['n2']?.msgsReceived, 1);
    assert.ok((s['n2']?.bytesSent ?? 0) > 0);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('messages queued in one tick leave in one write batch, in order', async () => {
  const nodes = await startMesh(['a', 'b']);
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    await waitFor('connection', 5000, () => a.t.stats().peers['b']?.connected === true, { intervalMs: 2 });
    const before = a.t.stats().peers['b']?.writeBatches ?? 0;
    for (let i = 0; i < 200; i++) a.t.send([heartbeat('a', 'b', i)]);
    await waitFor('200 messages', 5000, () => b.got.length === 200, { intervalMs: 2 });
    assert.deepEqual(
      b.got.map((m) => (m.type === 'app' ? m.round : -1)),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal((a.t.stats().peers['b']?.writeBatches ?? 0) - before, 1);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('redirecting a connected peer loses nothing sent right after the switch', async () => {
  const nodes = await startMesh(['a', 'b']);
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    await waitFor('connection', 5000, () => a.t.stats().peers['b']?.connected === true, { intervalMs: 2 });
    // Same address, new connection: the old socket must not swallow what is queued next.
    a.t.setPeerAddress('b', { host: '127.0.0.1', port: b.t.port });
    a.t.send([heartbeat('a', 'b', 1), heartbeat('a', 'b', 2)]);
    await waitFor('both messages after the switch', 5000, () => b.got.length === 2, { intervalMs: 2 });
    assert.ok((a.t.stats().peers['b']?.connects ?? 0) >= 2);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('messages sent while the peer is down are delivered after it restarts on the same address', async () => {
  const nodes = await startMesh(['a', 'b']);
  const a = get(nodes, 'a');
  const b = get(nodes, 'b');
  let b2: PeerTransport | null = null;
  try {
    a.t.send([heartbeat('a', 'b', 1)]);
    await waitFor('first message', 5000, () => b.got.length === 1, { intervalMs: 2 });
    const port = b.t.port;
    await b.t.stop();
    await waitFor('a notices b is gone', 5000, () => a.t.stats().peers['b']?.connected === false, { intervalMs: 2 });
    a.t.send([heartbeat('a', 'b', 2), heartbeat('a', 'b', 3)]);
    const got: Message[] = [];
    b2 = new PeerTransport({
      selfId: 'b',
      clusterId: 'test-cluster',
      listenHost: '127.0.0.1',
      listenPort: port,
      peers: new Map([['a', { host: '127.0.0.1', port: a.t.port }]]),
      maxFrameBytes: 1 << 20,
      maxQueuedBytesPerPeer: 1 << 20,
      reconnectBackoffMinMs: 10,
      reconnectBackoffMaxMs: 100,
    });
    b2.onMessage((m) => got.push(m));
    await b2.start();
    await waitFor('queued messages after restart', 5000, () => got.length === 2, { intervalMs: 2 });
    assert.deepEqual(
      got.map((m) => (m.type === 'app' ? m.round : -1)),
      [2, 3],
    );
    assert.ok((a.t.stats().peers['b']?.connects ?? 0) >= 2);
    assert.ok(a.logs.some((l) => l.level === 'warn' && /lost|error sending/.test(l.msg)));
  } finally {
    await a.t.stop();
    await b2?.stop();
  }
});

test('a peer with another cluster id is refused, logged and disconnected', async () => {
  const nodes = await startMesh(['a', 'b']);
  const a = get(nodes, 'a');
  const intruderLogs: LogLine[] = [];
  const refusedFor: string[] = [];
  const intruder = new PeerTransport({
    selfId: 'b',
    clusterId: 'some-other-cluster',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map([['a', { host: '127.0.0.1', port: a.t.port }]]),
    maxFrameBytes: 1 << 20,
    maxQueuedBytesPerPeer: 1 << 20,
    reconnectBackoffMinMs: 50,
    reconnectBackoffMaxMs: 200,
    logger: captureLogger(intruderLogs),
    identity: {
      clusterUid: '',
      incarnation: '',
      verify: () => null,
      onRefused: (_peer, reason) => refusedFor.push(reason),
    },
  });
  try {
    await intruder.start();
    intruder.send([heartbeat('b', 'a', 99)]);
    await waitFor('refusal', 5000, () => a.t.stats().refusedConnections >= 1, { intervalMs: 2 });
    await waitFor(
      'intruder sees the refusal',
      5000,
      () => intruderLogs.some((l) => /refused this node's connection/.test(l.msg)),
      { intervalMs: 2 },
    );
    const refusal = a.logs.find((l) => l.msg === 'refused peer connection');
    assert.match(JSON.stringify(refusal?.fields), /cluster token mismatch/);
    // The refused side learns why (so a new member stops) but never this cluster's token.
    await waitFor('identity refusal reported to the intruder', 5000, () => refusedFor.length >= 1, { intervalMs: 2 });
    assert.match(refusedFor[0] ?? '', /cluster token mismatch/);
    assert.ok(
      !JSON.stringify(intruderLogs).includes('test-cluster') && !refusedFor.join().includes('test-cluster'),
      'the real token is not echoed',
    );
    assert.equal(intruder.stats().peers['a']?.connected, false);
    await sleep(100);
    assert.ok(!a.got.some((m) => m.type === 'app' && m.round === 99), 'no message from the other cluster delivered');
  } finally {
    await intruder.stop();
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('the queue to an unreachable peer is bounded: oldest dropped and counted', async () => {
  const logs: LogLine[] = [];
  const t = new PeerTransport({
    selfId: 'a',
    clusterId: 'c',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map([['b', { host: '127.0.0.1', port: 1 }]]),
    maxFrameBytes: 8192,
    maxQueuedBytesPerPeer: 4096,
    reconnectBackoffMinMs: 10,
    reconnectBackoffMaxMs: 50,
    logger: captureLogger(logs),
  });
  await t.start();
  try {
    for (let i = 0; i < 500; i++) t.send([heartbeat('a', 'b', i)]);
    const s = t.stats().peers['b'];
    assert.ok(s !== undefined && s.drops > 0, 'drops counted');
    assert.ok(s.queuedBytes <= 4096, `queued ${s.queuedBytes}`);
    // Too large for any frame: dropped at once, logged.
    const huge = {
      ...heartbeat('a', 'b', 0),
      entries: [{ index: 1, term: 1, type: 0 as const, data: new Uint8Array(10_000) }],
    };
    const dropsBefore = s.drops;
    t.send([huge]);
    assert.equal(t.stats().peers['b']?.drops, dropsBefore + 1);
    t.send([heartbeat('a', 'nobody', 0)]);
    assert.equal(t.stats().unknownPeerDrops, 1);
    await waitFor('connection errors counted while retrying', 5000, () => (t.stats().peers['b']?.errors ?? 0) >= 2, {
      intervalMs: 2,
    });
  } finally {
    await t.stop();
  }
});

test('messages that waited longer than maxQueuedMessageAgeMs are dropped, not delivered late', async () => {
  const nodes = await startMesh(['a', 'b'], { maxQueuedMessageAgeMs: 50 });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    a.t.setPeerAddress('b', { host: '127.0.0.1', port: 1 }); // unreachable for now
    a.t.send([heartbeat('a', 'b', 1)]);
    await sleep(120);
    a.t.setPeerAddress('b', { host: '127.0.0.1', port: b.t.port });
    a.t.send([heartbeat('a', 'b', 2)]);
    await waitFor('fresh message', 5000, () => b.got.length >= 1, { intervalMs: 2 });
    await sleep(50);
    assert.deepEqual(
      b.got.map((m) => (m.type === 'app' ? m.round : -1)),
      [2],
    );
    assert.ok((a.t.stats().peers['b']?.drops ?? 0) >= 1);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});

test('configuration limits are validated once, with clear errors', () => {
  const ok = {
    selfId: 'a',
    clusterId: 'c',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map(),
    maxFrameBytes: 1 << 20,
    maxQueuedBytesPerPeer: 1 << 20,
    reconnectBackoffMinMs: 10,
    reconnectBackoffMaxMs: 100,
  };
  assert.doesNotThrow(() => new PeerTransport(ok));
  assert.throws(() => new PeerTransport({ ...ok, maxFrameBytes: 10 }), TransportConfigError);
  assert.throws(() => new PeerTransport({ ...ok, reconnectBackoffMaxMs: 5 }), /reconnectBackoffMaxMs/);
  assert.throws(() => new PeerTransport({ ...ok, snapshotChunkBytes: 1 << 20 }), /snapshotChunkBytes/);
  assert.throws(
    () => new PeerTransport({ ...ok, peers: new Map([['b', { host: '', port: 80 }]]) }),
    TransportConfigError,
  );
});

test('garbage from the network closes that connection only; the node keeps serving its peers', async () => {
  // A short handshake timeout: partial frames that never complete are cut quickly too.
  const nodes = await startMesh(['a', 'b'], { handshakeTimeoutMs: 200 });
  try {
    const a = get(nodes, 'a');
    const b = get(nodes, 'b');
    const hello = encodeFrame({
      kind: 'hello',
      version: 3,
      minVersion: 2,
      software: '',
      clusterId: 'test-cluster',
      from: 'b',
      to: 'a',
      clusterUid: '',
      incarnation: '',
    });
    const inputs: Uint8Array[] = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // a 4 GiB length prefix
      Buffer.concat([hello, Buffer.from([0, 0, 0, 20, 1, 4, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9])]), // valid hello, then a corrupt frame
    ];
    for (let i = 0; i < 20; i++) inputs.push(Uint8Array.from({ length: 64 }, (_, j) => (i * 131 + j * 17) % 256));
    for (const bytes of inputs) {
      const s = createConnection({ host: '127.0.0.1', port: a.t.port });
      s.on('error', () => {});
      s.on('data', () => {});
      s.write(bytes);
      await new Promise<void>((r) => {
        s.once('close', () => r());
        setTimeout(() => {
          s.destroy();
          r();
        }, 2000);
      });
    }
    assert.ok(a.t.stats().refusedConnections >= 2);
    b.t.send([heartbeat('b', 'a', 5)]);
    await waitFor('real peer still served', 5000, () => a.got.some((m) => m.type === 'app' && m.round === 5), {
      intervalMs: 2,
    });
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.t.stop()));
  }
});
