// The gate: a dial is refused (ECONNREFUSED, what a node logs at info level at first) until the
// target listens; then the proxy forwards, and a block set before the gate opened holds.
import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { freePorts, releasePorts, waitFor } from '../testkit/wait.ts';
import { startGatedProxy, type GatedProxy } from './gated-proxy.ts';

/** What a dial of 127.0.0.1:port gets: 'refused', 'echo' (a byte came back) or 'cut' (closed, nothing back). */
function dial(port: number): Promise<'refused' | 'echo' | 'cut'> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (r: 'refused' | 'echo' | 'cut'): void => {
      s.destroy();
      resolve(r);
    };
    s.once('data', () => done('echo'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'cut'));
    s.once('close', () => done('cut'));
    s.setTimeout(2000, () => done('cut'));
    s.write('x');
  });
}

/** A gated proxy on a free port in front of another free port (nothing listens there yet). */
async function gatedOnFreePorts(): Promise<{ proxy: GatedProxy; listenPort: number; targetPort: number }> {
  const [listenPort, targetPort] = (await freePorts(2)) as [number, number];
  const proxy = await startGatedProxy({
    listenHost: '127.0.0.1',
    listenPort,
    targetHost: '127.0.0.1',
    targetPort,
    probeIntervalMs: 20,
  });
  return { proxy, listenPort, targetPort };
}

test('gated proxy: refuses until its target listens, then forwards; a block set before it opened holds', async () => {
  const { proxy, listenPort, targetPort } = await gatedOnFreePorts();
  let echo: Server | null = null;
  try {
    assert.equal(proxy.port, listenPort);
    assert.equal(proxy.open, false);
    assert.equal(await dial(listenPort), 'refused', 'refused, not accepted and reset, while the target is down');
    proxy.setBlocked(true);
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo?.listen(targetPort, '127.0.0.1', r));
    await waitFor('the gate to open', 5000, () => proxy.open);
    assert.equal(await dial(listenPort), 'cut', 'blocked before it opened: still blocked');
    proxy.setBlocked(false);
    assert.equal(await dial(listenPort), 'echo');
    // Open for good: a target gone later is accept-then-cut (the link had worked; nodes warn then).
    await new Promise<void>((r) => echo?.close(() => r()));
    echo = null;
    assert.equal(await dial(listenPort), 'cut');
  } finally {
    await proxy.close();
    echo?.close();
    releasePorts([listenPort, targetPort]);
  }
  assert.equal(await dial(listenPort), 'refused', 'closed');
});

test('gated proxy: close() while the gate is still shut stops probing and never listens', async () => {
  const { proxy, listenPort, targetPort } = await gatedOnFreePorts();
  await proxy.close();
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(targetPort, '127.0.0.1', r));
  try {
    await new Promise((r) => setTimeout(r, 200)); // ten probe intervals
    assert.equal(proxy.open, false);
    assert.equal(await dial(listenPort), 'refused');
  } finally {
    echo.close();
    releasePorts([listenPort, targetPort]);
  }
});
