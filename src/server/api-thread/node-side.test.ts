// The node's side of a watch's flow control (session 9 audit): what it sends to the API thread before
// an acknowledgement is bounded in batches and in bytes, so that a watcher nobody reads holds at
// most one large batch on the API thread, not WATCH_WINDOW of them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KvBackend, WatchStream } from '../backend.ts';
import type { WatchBatch } from '../watch/hub.ts';
import { NodeSide } from './node-side.ts';
import { WATCH_WINDOW, WATCH_WINDOW_BYTES, type ToApi } from './protocol.ts';

/** A watch stream with `n` batches ready at once, each one put of a `valueChars`-long value. */
function readyStream(n: number, valueChars: number): WatchStream {
  const value = 'v'.repeat(valueChars);
  let i = 0;
  return {
    cancel: () => (i = n),
    [Symbol.asyncIterator]: () => ({
      next: () =>
        Promise.resolve(
          i >= n
            ? { done: true as const, value: undefined }
            : {
                done: false as const,
                value: {
                  revision: ++i,
                  events: [{ type: 'put', kv: { key: 'k', value, create: 1, mod: i, version: i } }],
                } satisfies WatchBatch,
              },
        ),
    }),
  };
}

async function sentBeforeAck(valueChars: number, acks: number): Promise<number> {
  const posted: ToApi[] = [];
  const backend = { watch: () => readyStream(100, valueChars) } as unknown as KvBackend;
  const side = new NodeSide(backend, undefined, (m) => posted.push(m));
  side.handle({ t: 'watch', id: 1, req: { key: 'k', prefix: false, startRevision: 0, prevKv: false } });
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
  await settle();
  for (let i = 0; i < acks; i++) {
    side.handle({ t: 'wnext', id: 1 });
    await settle();
  }
  side.closeAll();
  return posted.filter((m) => m.t === 'wbatch').length;
}

test('small batches: up to WATCH_WINDOW in flight, one more per acknowledgement', async () => {
  assert.equal(await sentBeforeAck(10, 0), WATCH_WINDOW);
  assert.equal(await sentBeforeAck(10, 3), WATCH_WINDOW + 3);
});

test('large batches: no new batch once the unacknowledged bytes reach WATCH_WINDOW_BYTES', async () => {
  // 1 Mi characters (a 1 MiB ASCII value) is over the window alone: one batch, then one per ack.
  assert.equal(await sentBeforeAck(1024 * 1024, 0), 1);
  assert.equal(await sentBeforeAck(1024 * 1024, 2), 3);
  // Batches of ~2/7 of the window: three leave room under it, the fourth reaches it.
  assert.equal(await sentBeforeAck(Math.floor(WATCH_WINDOW_BYTES / 3.5), 0), 4);
});
