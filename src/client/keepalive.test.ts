// ttlKeepAliveLoop (the lock recipe's): the grant is known alive only until the TTL after the last
// successful keep-alive was *sent* (the leader restarted the countdown no earlier), not after its
// answer came; an error no retry can fix ends the loop at once instead of spinning until the TTL
// runs out; one signal for the whole loop collects no listeners (the session 12 client audit).
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import { LeasekvClient, LeasekvError } from './index.ts';

async function member(
  handle: (res: ServerResponse, n: number) => void,
): Promise<{ ep: string; count: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(res, n++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    ep: `127.0.0.1:${(server.address() as { port: number }).port}`,
    count: () => n,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
const alive = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"id":"7","ttlMs":"600"}');
};

test('the grant is counted alive from the send of the last keep-alive that got through, not its answer', async () => {
  const TTL_MS = 600;
  let lastOkSentAt = 0;
  // The first keep-alive is answered at once, the second 300 ms late, every later one is refused.
  const m = await member((res, n) => {
    if (n === 0) alive(res);
    else if (n === 1) {
      lastOkSentAt = performance.now();
      setTimeout(() => alive(res), 300);
    } else {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"code":"unavailable","message":"no leader"}');
    }
  });
  const kv = new LeasekvClient({ endpoints: [m.ep], attemptTimeoutMs: 1000, backoff: { initialMs: 20, maxMs: 50 } });
  try {
    const until: number[] = [];
    const loop = kv.ttlKeepAliveLoop(7, TTL_MS, new AbortController().signal, { onAlive: (u) => until.push(u) });
    await assert.rejects(loop, /no keep-alive got through within its 600 ms TTL/);
    const lostAfterMs = performance.now() - lastOkSentAt;
    // It used to count from the answer: lost only ~300 ms after the grant may have ended.
    assert.ok(lostAfterMs < TTL_MS + 100, `lost ${Math.round(lostAfterMs)} ms after the last good keep-alive was sent`);
    assert.equal(until.length, 2);
    assert.ok(Math.abs((until[1] as number) - (lastOkSentAt + TTL_MS)) < 50);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('an error a retry cannot fix ends the loop at once; one signal collects no listeners', async () => {
  const m = await member(alive);
  const kv = new LeasekvClient({ endpoints: [m.ep] });
  try {
    const ac = new AbortController();
    // 60 ms TTL: a keep-alive every 20 ms.
    const loop = kv.ttlKeepAliveLoop(7, 60, ac.signal);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(m.count() >= 12, `${m.count()} keep-alives`);
    assert.ok(getEventListeners(ac.signal, 'abort').length <= 2, 'listeners do not pile up');
    // close(): the next keep-alive is refused with canceled. It used to retry in a loop without
    // yielding to the event loop until the TTL ran out.
    let ticks = 0;
    const tick = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    await kv.close();
    await assert.rejects(loop, (e: unknown) => e instanceof LeasekvError && e.code === 'canceled');
    clearInterval(tick);
    const took = performance.now() - t0;
    assert.ok(took < 200, `ended ${Math.round(took)} ms after close()`);
    assert.ok(ticks >= Math.floor(took / 5) - 3, `the event loop ran (${ticks} ticks in ${Math.round(took)} ms)`);
  } finally {
    await kv.close();
    await m.close();
  }
});
