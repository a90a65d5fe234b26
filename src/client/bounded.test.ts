// Memory stays bounded whatever an endpoint sends (session 12 client audit): an answer past
// maxResponseBytes is dropped at once with AnswerTooLargeError (not buffered until the attempt
// times out, gigabytes at local speed), a watch stream that never ends an event is dropped, and a
// watch refusal that goes on and on is read no further.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { fakeMember, type FakeMember } from '../testkit/fake-member.ts';
import { AnswerTooLargeError, LeasekvClient, UnavailableError } from './index.ts';

/** Writes `chunk` to `res` until the connection goes (a firehose). */
function firehose(res: ServerResponse, chunk: string): void {
  const more = (): void => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  more();
}

/** A member that answers every request with `serve`, at once. */
const member = (serve: (res: ServerResponse) => void): Promise<FakeMember> =>
  fakeMember((_req, res) => serve(res), { early: true });

const MiB = 'x'.repeat(1024 * 1024);

test('an answer past maxResponseBytes is dropped at once, not retried', async () => {
  const m = await member((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    firehose(res, MiB);
  });
  const kv = new LeasekvClient({ endpoints: [m.ep], maxResponseBytes: 4 * 1024 * 1024, deadlineMs: 5000 });
  try {
    const t0 = performance.now();
    await assert.rejects(
      kv.get('k'),
      (e: unknown) => e instanceof AnswerTooLargeError && /more than maxResponseBytes \(4194304\)/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 2000, `ended after ${Math.round(performance.now() - t0)} ms`);
    assert.equal(m.count(), 1);
  } finally {
    await kv.close();
    await m.close();
  }
});

test('a watch stream that never ends an event, or a refusal without end, is dropped: the watch gives up', async () => {
  const streams = await member((res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    firehose(res, MiB);
  });
  const refusals = await member((res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    firehose(res, MiB);
  });
  try {
    for (const [m, re] of [
      [streams, /an event of more than maxResponseBytes \(2097152\) was dropped/],
      [refusals, /HTTP 503/],
    ] as const) {
      const kv = new LeasekvClient({ endpoints: [m.ep], maxResponseBytes: 2 * 1024 * 1024 });
      try {
        await assert.rejects(
          (async () => {
            for await (const _ of kv.watch('k', { unreachableTimeoutMs: 500, startRevision: 3 }))
              assert.fail('no events');
          })(),
          (e: unknown) => e instanceof UnavailableError && re.test(e.message),
        );
      } finally {
        await kv.close();
      }
    }
    assert.ok(process.memoryUsage().rss < 1024 * 1024 * 1024, 'memory bounded');
  } finally {
    await streams.close();
    await refusals.close();
  }
});
