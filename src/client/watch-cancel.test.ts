// A watch ends when told to, at once: its signal aborting returns the iterator (it used to wait
// for the idle timeout, 20 s by default, on a quiet stream); close() ends it with a canceled
// LeasekvError (it used to go on reconnecting for ever, keeping the process alive), also between
// reconnects; a malformed event from a member is a broken stream (resumed elsewhere), never an
// uncaught exception (the session 12 client audit).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember, type FakeMember } from '../testkit/fake-member.ts';
import { LeasekvClient, LeasekvError, type WatchResponse } from './index.ts';

function progress(res: ServerResponse, rev: number): void {
  res.write(`id: ${rev}\nevent: progress\ndata: {"revision":"${rev}","events":[],"memberId":"m"}\n\n`);
}

/**
 * A member whose watch streams are served by `serve` (the stream's number); its Status says revision
 * 4 (a watch without startRevision asks it first, to pin its start).
 */
const member = (serve: (res: ServerResponse, n: number) => void): Promise<FakeMember> => {
  let streams = 0;
  return fakeMember(
    (req, res) => {
      if (req.url?.endsWith('/Status') === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"revision":"4"}');
      } else serve(res, streams++);
    },
    { early: true },
  );
};

/** Runs the watch in the background: what it yielded and how it ended. */
function drain(it: AsyncGenerator<WatchResponse>): { seen: WatchResponse[]; end: Promise<unknown> } {
  const seen: WatchResponse[] = [];
  const end = (async () => {
    for await (const r of it) seen.push(r);
    return 'returned';
  })().catch((e: unknown) => e);
  return { seen, end };
}

const quiet = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  progress(res, 5); // then nothing: the watch waits for the next message
};

test('aborting the signal of a quiet watch returns the iterator at once', async () => {
  const m = await member(quiet);
  const kv = new LeasekvClient({ endpoints: [m.ep] });
  try {
    const ac = new AbortController();
    const w = drain(kv.watch('k', { signal: ac.signal, progress: true }));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.seen.length, 1);
    const t0 = performance.now();
    ac.abort();
    assert.equal(await w.end, 'returned');
    assert.ok(performance.now() - t0 < 1000, `returned ${Math.round(performance.now() - t0)} ms after the abort`);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('close() ends a watch with canceled at once, streaming or between reconnects', async () => {
  const streaming = await member(quiet);
  // Every stream refused: the watch is in its backoff between rounds most of the time.
  const refusing = await member((res) => {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"code":"unavailable","message":"starting"}');
  });
  try {
    for (const m of [streaming, refusing]) {
      const kv = new LeasekvClient({ endpoints: [m.ep] });
      const w = drain(kv.watch('k', { startRevision: 3 }));
      await new Promise((r) => setTimeout(r, 600));
      const t0 = performance.now();
      await kv.close();
      const end = await w.end;
      assert.ok(end instanceof LeasekvError && end.code === 'canceled', String(end));
      assert.match(end.message, /client is closed; resume from revision \d+/);
      assert.ok(performance.now() - t0 < 1000, `ended ${Math.round(performance.now() - t0)} ms after close()`);
    }
  } finally {
    await streaming.close();
    await refusing.close();
  }
});

test('a malformed event ends that stream, not the process; the watch resumes', async () => {
  const m = await member((res, n) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (n === 0) {
      progress(res, 5);
      res.write('event: events\ndata: {"revision": not json\n\n');
    } else progress(res, 9);
  });
  const kv = new LeasekvClient({ endpoints: [m.ep] });
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    const ac = new AbortController();
    const w = drain(kv.watch('k', { signal: ac.signal, progress: true }));
    const until = performance.now() + 3000;
    while (w.seen.length < 2 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    assert.equal(await w.end, 'returned');
    assert.deepEqual(uncaught, []);
    assert.deepEqual(
      w.seen.map((r) => r.revision),
      [5, 9],
    );
  } finally {
    process.off('uncaughtException', onUncaught);
    await kv.close();
    await m.close();
  }
});
