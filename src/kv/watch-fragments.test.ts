// A revision over WatchRequest.maxBatchBytes comes in pieces (session 11): each under the cap (one
// event bigger than it alone), all but the last marked fragment, nothing between them, joined they
// are the revision; and a revision bigger than the slow-reader bound is sent, not cut off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeEvent } from './machine.ts';
import { DEFAULT_WATCH_LIMITS, WatchHub, watchEventBytes, WatcherTooSlowError, type WatchBatch } from './watch-hub.ts';

const put = (key: string, value: string, rev: number, prev?: string): ChangeEvent => ({
  type: 'put',
  kv: { key, value, create: rev, mod: rev, version: 1 },
  ...(prev === undefined ? {} : { prev: { key, value: prev, create: 1, mod: 1, version: 1 } }),
});

function hub(maxPendingBytes = DEFAULT_WATCH_LIMITS.maxPendingBytes): WatchHub {
  const noTicker = (): (() => void) => () => undefined;
  return new WatchHub(0, { ...DEFAULT_WATCH_LIMITS, maxPendingBytes }, noTicker);
}

/** Pulls what is ready (the first "caught up" progress notification included). */
function drain(w: { pull(): WatchBatch | 'wait' | 'end' }): WatchBatch[] {
  const out: WatchBatch[] = [];
  for (let b = w.pull(); b !== 'wait' && b !== 'end'; b = w.pull()) out.push(b);
  return out;
}

test('a revision over maxBatchBytes: pieces under the cap, fragment on all but the last, joined in order', () => {
  const h = hub();
  const cap = 10_000;
  const w = h.watch({ key: 'k/', prefix: true, startRevision: 0, prevKv: true, maxBatchBytes: cap });
  const whole = h.watch({ key: 'k/', prefix: true, startRevision: 0, prevKv: true });
  assert.deepEqual(drain(w), [{ revision: 0, events: [] }]);
  drain(whole);
  // 40 events of ~1.1 KB (with "é", two UTF-8 bytes a character), one of 25 KB (alone), more.
  const events = Array.from({ length: 40 }, (_, i) => put(`k/${i}`, 'é'.repeat(300), 1, 'x'.repeat(500)));
  events.splice(17, 0, put('k/big', 'b'.repeat(25_000), 1));
  h.publish(1, events);
  h.publish(2, [put('k/next', '1', 2)]);
  const got = drain(w);
  const pieces = got.filter((b) => b.revision === 1);
  assert.ok(pieces.length >= 7, `${pieces.length} pieces`);
  pieces.forEach((p, i) => {
    assert.equal(p.fragment, i < pieces.length - 1 ? true : undefined, `piece ${i}`);
    assert.ok(p.events.length >= 1);
    const bytes = p.events.reduce((n, e) => n + watchEventBytes(e), 0);
    assert.ok(bytes <= cap || p.events.length === 1, `piece ${i}: ${bytes} bytes in ${p.events.length} events`);
  });
  assert.ok(
    pieces.some((p) => p.events.length === 1 && p.events[0]!.kv.key === 'k/big'),
    'the event over the cap alone',
  );
  assert.deepEqual(
    pieces.flatMap((p) => p.events),
    events,
  );
  // Revision 2 only after the last piece of 1; without the cap, revision 1 whole.
  assert.deepEqual(got.slice(pieces.length), [{ revision: 2, events: [put('k/next', '1', 2)] }]);
  assert.deepEqual(drain(whole), [
    { revision: 1, events },
    { revision: 2, events: [put('k/next', '1', 2)] },
  ]);
  h.close();
});

test('no progress notification between pieces; catch-up from the history splits the same way', () => {
  const h = hub();
  const events = Array.from({ length: 30 }, (_, i) => put(`k/${i}`, 'v'.repeat(1000), 1));
  h.publish(1, events);
  const w = h.watch({ key: 'k/', prefix: true, startRevision: 1, prevKv: false, maxBatchBytes: 5000 });
  const first = w.pull() as WatchBatch;
  assert.equal(first.fragment, true);
  (h as unknown as { progress(): void }).progress(); // the idle tick fires mid-revision
  const rest = drain(w);
  const pieces = [first, ...rest.filter((b) => b.events.length > 0)];
  assert.deepEqual(
    pieces.flatMap((p) => p.events),
    events,
  );
  assert.equal(pieces.at(-1)!.fragment, undefined);
  // The only progress notification is the "caught up" one, after the whole revision.
  assert.deepEqual(rest.at(-1), { revision: 1, events: [] });
  assert.equal(rest.filter((b) => b.events.length === 0).length, 1);
  h.close();
});

test('one revision bigger than maxPendingBytes reaches a watcher that keeps up; one that does not is cut off', async () => {
  const h = hub(20_000);
  const w = h.watch({ key: '', prefix: true, startRevision: 0, prevKv: false, maxBatchBytes: 8000 });
  drain(w);
  const big = Array.from({ length: 20 }, (_, i) => put(`k/${i}`, 'v'.repeat(5000), 1)); // ~104 KB
  h.publish(1, big);
  // Small revisions queue behind the big one while it is being sent.
  for (let r = 2; r <= 5; r++) h.publish(r, [put('s', 'x', r)]);
  const got = drain(w);
  assert.deepEqual(
    got.filter((b) => b.revision === 1).flatMap((b) => b.events),
    big,
  );
  assert.deepEqual(
    got.filter((b) => b.revision > 1).map((b) => b.revision),
    [2, 3, 4, 5],
  );
  // A reader that stops: 20 KB of unsent changes beyond the largest revision cut it off.
  for (let r = 6; r <= 200; r++) h.publish(r, [put('s', 'x'.repeat(300), r)]);
  assert.throws(() => drain(w), WatcherTooSlowError);
  h.close();
});
