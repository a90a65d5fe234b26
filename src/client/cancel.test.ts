// Every call ends: by its deadline, by the caller's AbortSignal in any phase (before it starts, in
// flight, in the backoff between attempts, waiting for a session slot) and by close(), each with a
// typed error and at once, not at the deadline; a signal shared by many calls collects no
// listeners; limits that cannot work are refused when given (the session 12 client audit).
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember as member } from '../testkit/fake-member.ts';
import { DeadlineExceededError, LeasekvClient, LeasekvError } from './index.ts';

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const ok = (res: ServerResponse): void => answer(res, 200, { found: false, index: '1', revision: '1' });
const unavailable = (res: ServerResponse): void => answer(res, 503, { code: 'unavailable', message: 'no leader' });

const canceled = (re: RegExp) => (e: unknown) =>
  e instanceof LeasekvError && e.code === 'canceled' && re.test(e.message);

test('a signal shared by many calls collects no abort listeners', async () => {
  const m = await member((_q, res) => ok(res));
  const kv = new LeasekvClient({ endpoints: [m.ep], sessions: false });
  try {
    const shared = new AbortController();
    for (let i = 0; i < 20; i++) await kv.get('k', { signal: shared.signal });
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('an already aborted signal: canceled, nothing sent', async () => {
  const m = await member((_q, res) => ok(res));
  const kv = new LeasekvClient({ endpoints: [m.ep] });
  try {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(kv.get('k', { signal: ac.signal }), canceled(/signal was aborted/));
    await assert.rejects(kv.put('k', 'v', { signal: ac.signal }), canceled(/signal was aborted/));
    assert.equal(m.count(), 0);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('abort during the backoff between attempts ends the call at once', async () => {
  const m = await member((_q, res) => unavailable(res));
  // Full jitter at 0.99 of 3 s: the backoff after the first failure is ~3 s.
  const kv = new LeasekvClient({
    endpoints: [m.ep],
    deadlineMs: 10_000,
    backoff: { initialMs: 3000, maxMs: 3000 },
    random: () => 0.99,
  });
  try {
    const ac = new AbortController();
    const t0 = performance.now();
    const call = kv.get('k', { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(call, canceled(/^canceled; last error: .*no leader/));
    assert.ok(performance.now() - t0 < 1500, `ended ${Math.round(performance.now() - t0)} ms after it began`);
    assert.equal(m.count(), 1);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('close() ends calls in flight and in backoff with canceled at once; nothing is sent after', async () => {
  let held: ServerResponse | undefined;
  const m = await member((req, res) => (req.url?.includes('Put') === true ? (held = res) : unavailable(res)));
  const kv = new LeasekvClient({
    endpoints: [m.ep],
    deadlineMs: 10_000,
    backoff: { initialMs: 3000, maxMs: 3000 },
    random: () => 0.99,
  });
  try {
    const t0 = performance.now();
    const inBackoff = kv.get('k');
    const inFlight = kv.put('k', 'v');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(held !== undefined, 'the put reached the member');
    await kv.close();
    await assert.rejects(inBackoff, canceled(/^client is closed/));
    await assert.rejects(inFlight, canceled(/^client is closed/));
    assert.ok(performance.now() - t0 < 1500, `ended ${Math.round(performance.now() - t0)} ms after they began`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(m.count(), 2, 'no attempt after close()');
    await kv.close(); // again: harmless
  } finally {
    await m.close();
  }
});

test('a write waiting for a session slot ends by its deadline, or when aborted', async () => {
  const held: ServerResponse[] = [];
  const m = await member((_q, res) => held.push(res));
  const kv = new LeasekvClient({ endpoints: [m.ep], maxConcurrency: 1, deadlineMs: 5000 });
  try {
    const first = kv.put('a', '1').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await assert.rejects(
      kv.put('b', '2', { deadlineMs: 300 }),
      (e: unknown) => e instanceof DeadlineExceededError && /waiting for a session slot/.test(e.message),
    );
    const took = performance.now() - t0;
    assert.ok(took >= 250 && took < 1500, `the queued write ended after ${Math.round(took)} ms`);
    const ac = new AbortController();
    const queued = kv.put('c', '3', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(queued, canceled(/^canceled/));
    assert.equal(m.count(), 1, 'only the first write was sent');
    // The slot still works: the first write's answer frees it for the next.
    for (const res of held) ok(res);
    await first;
    const next = kv.put('d', '4');
    await new Promise((r) => setTimeout(r, 100));
    for (const res of held.splice(0)) if (!res.writableEnded) ok(res);
    await next;
  } finally {
    await kv.close();
    await m.close();
  }
});

test('limits that cannot work are refused: at construction, and per call before anything is sent', async () => {
  const bad: [object, RegExp][] = [
    [{ endpoints: '127.0.0.1:7001' }, /endpoints must be an array/],
    [{ endpoints: [] }, /endpoints must not be empty/],
    [{ endpoints: [''] }, /is not host:port/],
    [{ endpoints: ['a:1'], deadlineMs: -1 }, /deadlineMs must be a positive number/],
    [{ endpoints: ['a:1'], attemptTimeoutMs: 3e9 }, /attemptTimeoutMs must be a positive number of ms up to/],
    [
      { endpoints: ['a:1'], backoff: { initialMs: 500, maxMs: 100 } },
      /backoff.maxMs \(100\) must be >= backoff.initialMs/,
    ],
    [{ endpoints: ['a:1'], backoff: { multiplier: Infinity } }, /multiplier/],
    [{ endpoints: ['a:1'], maxConcurrency: 1.5 }, /maxConcurrency must be a positive integer/],
    [{ endpoints: ['a:1'], clientId: '' }, /clientId/],
  ];
  for (const [opts, re] of bad) assert.throws(() => new LeasekvClient(opts as never), re, JSON.stringify(opts));
  const m = await member((_q, res) => unavailable(res));
  const kv = new LeasekvClient({ endpoints: [m.ep] });
  try {
    // NaN used to make every attempt's timer fire at once and the call retry for ever.
    for (const d of [Number.NaN, -5, 0, Infinity, 3e9])
      await assert.rejects(kv.get('k', { deadlineMs: d }), /deadlineMs must be a positive number/, String(d));
    await assert.rejects(kv.ttlKeepAliveLoop(1, Number.NaN, new AbortController().signal), /ttlMs must be/);
    assert.throws(() => kv.watch('k', { startRevision: -1 }), /startRevision must be an integer >= 0/);
    assert.throws(() => kv.watch('k', { idleTimeoutMs: 0 }), /idleTimeoutMs must be a positive number/);
    assert.equal(m.count(), 0);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('resolving a leader hint by asking the members stays within the call deadline', async () => {
  // A follower that names its leader by id only; its Status (asked to find the leader's address) hangs.
  const m = await member((req, res) => {
    if (req.url?.endsWith('/Status') === true) return;
    res.writeHead(400, { 'content-type': 'application/json', 'leasekv-leader': 'n9' });
    res.end(JSON.stringify({ code: 'failed_precondition', message: 'not the leader' }));
  });
  const kv = new LeasekvClient({ endpoints: [m.ep], deadlineMs: 100 });
  try {
    const t0 = performance.now();
    await assert.rejects(kv.get('k'), (e: unknown) => e instanceof DeadlineExceededError);
    const took = performance.now() - t0;
    // It used to ask for up to 500 ms (+50) whatever was left of the deadline.
    assert.ok(took < 450, `ended ${Math.round(took)} ms after it began (deadline 100 ms)`);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('a signal shared by many concurrent calls gets one listener; aborting it ends them all', async () => {
  const held: ServerResponse[] = [];
  const m = await member((_q, res) => held.push(res));
  const kv = new LeasekvClient({ endpoints: [m.ep], sessions: false, deadlineMs: 10_000 });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const shared = new AbortController();
    const calls = Array.from({ length: 30 }, (_, i) => kv.get(`k${i}`, { signal: shared.signal }));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(getEventListeners(shared.signal, 'abort').length, 1);
    shared.abort();
    const ended = await Promise.allSettled(calls);
    assert.ok(ended.every((r) => r.status === 'rejected' && canceled(/^canceled/)(r.reason)));
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
    await kv.close();
    await m.close();
  }
});
