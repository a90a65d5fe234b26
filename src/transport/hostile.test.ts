// Hostile connections to the peer port (issue 13): before the handshake a stranger can make the node
// buffer only a hello-sized frame, and inbound connections are capped.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { MAX_HELLO_FRAME_BYTES } from './codec.ts';
import { get, heartbeat, startMesh } from './test-helpers.ts';
import { waitFor } from '../testkit/wait.ts';

function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(s));
  });
}

test('before the handshake, a frame larger than a hello is refused at its length prefix', async () => {
  // A long handshake timeout: only the frame bound can close this connection within the test.
  const nodes = await startMesh(['a'], { handshakeTimeoutMs: 600_000 });
  const a = get(nodes, 'a');
  try {
    const sock = await openRaw(a.t.port);
    sock.resume(); // read (and drop) the refusal, so that the server's close is seen
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(2 << 20); // 2 MiB: under this mesh's maxFrameBytes (4 MiB), far over a hello
    sock.write(Buffer.concat([prefix, Buffer.alloc(64 * 1024)]));
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref()),
    ]);
    assert.ok(
      a.logs.some(
        (l) =>
          l.msg === 'refused peer connection' &&
          new RegExp(`exceeds maxFrameBytes ${MAX_HELLO_FRAME_BYTES}`).test(JSON.stringify(l.fields)),
      ),
      JSON.stringify(a.logs),
    );
  } finally {
    for (const n of nodes.values()) await n.t.stop();
  }
});

test('inbound peer connections beyond the cap are reset on arrival; members still connect', async () => {
  const nodes = await startMesh(['a', 'b'], { maxInboundConnections: 3 });
  const a = get(nodes, 'a');
  const b = get(nodes, 'b');
  const strangers: Socket[] = [];
  try {
    // b's connection to a is one of the three.
    b.t.send([heartbeat('b', 'a', 1)]);
    await waitFor('b reaches a', 5000, () => a.got.length >= 1, { intervalMs: 2 });
    for (let i = 0; i < 4; i++) strangers.push(await openRaw(a.t.port));
    await waitFor('two strangers reset', 5000, () => strangers.filter((s) => s.destroyed).length >= 2, {
      intervalMs: 2,
    });
    assert.ok(a.t.stats().refusedConnections >= 2);
    b.t.send([heartbeat('b', 'a', 2)]);
    await waitFor('b still reaches a', 5000, () => a.got.length >= 2, { intervalMs: 2 });
  } finally {
    for (const s of strangers) s.destroy();
    for (const n of nodes.values()) await n.t.stop();
  }
});

test('the default inbound cap follows the members as setPeers adds them (a member that grew past its start)', async () => {
  // Started knowing one peer (a restart without --peers knows its members from the data dir, a
  // member started with --join from the cluster): 2 × 2 + 4 = 8. Then the configuration has eight.
  const nodes = await startMesh(['a', 'b']);
  const a = get(nodes, 'a');
  const strangers: Socket[] = [];
  try {
    const peers = new Map(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((id) => [id, { host: '127.0.0.1', port: 1 }]));
    a.t.setPeers(peers);
    // 2 × 9 + 4 = 20 now: twelve connections (beyond the first cap of 8) are all kept.
    for (let i = 0; i < 12; i++) strangers.push(await openRaw(a.t.port));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(strangers.filter((s) => s.destroyed).length, 0, 'none reset');
    assert.equal(a.t.stats().refusedConnections, 0);
  } finally {
    for (const s of strangers) s.destroy();
    for (const n of nodes.values()) await n.t.stop();
  }
});
