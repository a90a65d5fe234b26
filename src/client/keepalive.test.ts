// ttlKeepAliveLoop (the lock recipe's): the grant is known alive only until the TTL after the last
// successful keep-alive was *sent* (the leader restarted the countdown no earlier), not after its
// answer came; an error no retry can fix ends the loop at once instead of spinning until the TTL
// runs out; one signal for the whole loop collects no listeners (the session 12 client audit).
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember, type FakeMember } from '../testkit/fake-member.ts';
import { waitFor } from '../testkit/wait.ts';
import { LeasekvClient, LeasekvError } from './index.ts';

const member = (handle: (res: ServerResponse, n: number) => void): Promise<FakeMember> =>
  fakeMember((_req, res, n) => handle(res, n));
const alive = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"id":"7","ttlMs":"4000"}');
};

test('the grant is counted alive from the send of the last keep-alive that got through, not its answer', async () => {
  // Wide margins: the assertions must hold on a loaded 2-core machine (a fresh-clone run at load 35
  // missed the late answer when the attempt timeout was LATE_MS itself: a race of two timers).
  const TTL_MS = 4000;
  const LATE_MS = 2000;
  let lastOkSentAt = 0;
  // The first keep-alive is answered at once, the second LATE_MS late, every later one is refused.
  const m = await member((res, n) => {
    if (n === 0) alive(res);
    else if (n === 1) {
      lastOkSentAt = performance.now();
      setTimeout(() => alive(res), LATE_MS);
    } else {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"code":"unavailable","message":"no leader"}');
    }
  });
  // The late answer comes well within an attempt (LATE_MS + 1 s).
  const kv = new LeasekvClient({
    endpoints: [m.ep],
    attemptTimeoutMs: LATE_MS + 1000,
    backoff: { initialMs: 20, maxMs: 50 },
  });
  try {
    const until: number[] = [];
    const loop = kv.ttlKeepAliveLoop(7, TTL_MS, new AbortController().signal, { onAlive: (u) => until.push(u) });
    await assert.rejects(loop, /no keep-alive got through within its 4000 ms TTL/);
    const lostAfterMs = performance.now() - lastOkSentAt;
    // It used to count from the answer: lost only LATE_MS after the grant may have ended.
    assert.ok(
      lostAfterMs < TTL_MS + LATE_MS / 2,
      `lost ${Math.round(lostAfterMs)} ms after the last good keep-alive was sent`,
    );
    assert.equal(until.length, 2);
    assert.ok(Math.abs((until[1] as number) - (lastOkSentAt + TTL_MS)) < LATE_MS / 2);
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
    // 3 s TTL: a keep-alive every second (a 600 ms TTL ran out on its own at load 35).
    const loop = kv.ttlKeepAliveLoop(7, 3000, ac.signal);
    await waitFor('four keep-alives', 60_000, () => m.count() >= 4, { intervalMs: 20 });
    assert.ok(getEventListeners(ac.signal, 'abort').length <= 2, 'listeners do not pile up');
    // close(): the next keep-alive is refused with canceled, which ends the loop. It used to retry
    // in a loop without yielding to the event loop until the TTL ran out, then end 'unavailable'.
    const t0 = performance.now();
    await kv.close();
    await assert.rejects(loop, (e: unknown) => e instanceof LeasekvError && e.code === 'canceled');
    const took = performance.now() - t0;
    // (The code above is what tells the old loop apart; this only bounds it: a sleep of 1 s, then one call.)
    assert.ok(took < 3000, `ended ${Math.round(took)} ms after close()`);
  } finally {
    await kv.close();
    await m.close();
  }
});
