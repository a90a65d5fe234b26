// What a link logs when its peer refuses connections: a peer never reached yet is most likely still
// starting (members of a new cluster start one after another) — one info line, no warning; a peer
// that was reached and then refuses is a failure worth a warning.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { PeerTransport } from './peer-transport.ts';
import { captureLogger, heartbeat, startMesh, type LogLine } from './test-helpers.ts';
import { waitFor } from '../testkit/wait.ts';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const warns = (logs: LogLine[]): LogLine[] => logs.filter((l) => l.level === 'warn' || l.level === 'error');

test('a peer that has never listened: one info line while it starts, no warning', async () => {
  const logs: LogLine[] = [];
  const t = new PeerTransport({
    selfId: 'a',
    clusterId: 'test-cluster',
    listenHost: '127.0.0.1',
    listenPort: 0,
    peers: new Map([['b', { host: '127.0.0.1', port: await closedPort() }]]),
    maxFrameBytes: 1 << 20,
    maxQueuedBytesPerPeer: 1 << 20,
    reconnectBackoffMinMs: 10,
    reconnectBackoffMaxMs: 20,
    logger: captureLogger(logs),
  });
  await t.start();
  try {
    t.send([heartbeat('a', 'b', 1)]);
    await waitFor('several refused dials', 5000, () => (t.stats().peers['b']?.errors ?? 0) >= 5, { intervalMs: 2 });
    assert.deepEqual(warns(logs), [], JSON.stringify(logs));
    assert.equal(logs.filter((l) => /node b is not listening yet/.test(l.msg)).length, 1, JSON.stringify(logs));
  } finally {
    await t.stop();
  }
});

test('a peer that was reached and then refuses: a warning', async () => {
  const nodes = await startMesh(['a', 'b']);
  const a = nodes.get('a');
  const b = nodes.get('b');
  assert.ok(a !== undefined && b !== undefined);
  try {
    a.t.send([heartbeat('a', 'b', 1)]);
    await waitFor('a reaches b', 5000, () => b.got.length >= 1);
    await b.t.stop();
    a.t.send([heartbeat('a', 'b', 2)]);
    await waitFor('a warns', 5000, () => warns(a.logs).some((l) => /error sending to node b/.test(l.msg)), {
      intervalMs: 2,
    });
  } finally {
    await a.t.stop();
  }
});
