// TurnBatch: messages queued in one turn go out as one, in order; a message sent at once never
// overtakes what was queued before it; each send comes after beforeSend.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnBatch } from './turn-batch.ts';
import type { Batch } from './protocol.ts';

interface Msg {
  readonly t: string;
  readonly n: number;
}

function recorder(when: 'immediate' | 'microtask'): { b: TurnBatch<Msg>; sent: (Msg | Batch<Msg> | 'before')[] } {
  const sent: (Msg | Batch<Msg> | 'before')[] = [];
  const b = new TurnBatch<Msg>(
    (m) => sent.push(m),
    when,
    () => sent.push('before'),
  );
  return { b, sent };
}

test('messages queued in one turn are sent as one batch, in order, at the end of the turn', async () => {
  const { b, sent } = recorder('immediate');
  b.push({ t: 'put', n: 1 });
  b.push({ t: 'put', n: 2 });
  await Promise.resolve();
  b.push({ t: 'get', n: 3 });
  assert.deepEqual(sent, [], 'nothing is sent before the turn ends');
  await nextTurn();
  assert.deepEqual(sent, [
    'before',
    {
      t: 'batch',
      ms: [
        { t: 'put', n: 1 },
        { t: 'put', n: 2 },
        { t: 'get', n: 3 },
      ],
    },
  ]);
  b.push({ t: 'put', n: 4 });
  await nextTurn();
  assert.deepEqual(sent.slice(2), ['before', { t: 'put', n: 4 }], 'a lone message goes as itself');
});

test('microtask mode sends once the microtasks queued before the first message have run', async () => {
  const { b, sent } = recorder('microtask');
  // Three answers resolved by one apply: their reactions are queued before the send.
  const resolved = [1, 2, 3].map((n) => Promise.resolve(n).then((n) => b.push({ t: 'ok', n })));
  await Promise.all(resolved);
  await Promise.resolve();
  assert.deepEqual(sent, [
    'before',
    {
      t: 'batch',
      ms: [
        { t: 'ok', n: 1 },
        { t: 'ok', n: 2 },
        { t: 'ok', n: 3 },
      ],
    },
  ]);
});

test('a message sent at once goes after what is queued, never before it', async () => {
  const { b, sent } = recorder('immediate');
  b.push({ t: 'call', n: 1 });
  b.now({ t: 'closed', n: 2 });
  assert.deepEqual(sent, ['before', { t: 'call', n: 1 }, 'before', { t: 'closed', n: 2 }]);
  await nextTurn();
  assert.equal(sent.length, 4, 'the scheduled send finds nothing left');
  b.now({ t: 'log', n: 3 });
  assert.deepEqual(sent.slice(4), ['before', { t: 'log', n: 3 }]);
});

test('with a budget, large messages go out in parts, the rest after a turn in which timers run', async () => {
  // Session 9 audit: 128 answers of a 1 MB value were one 128 MB copy on the node's thread.
  const sent: (Msg | Batch<Msg>)[] = [];
  const b = new TurnBatch<Msg>((m) => sent.push(m), 'microtask', undefined, { bytesOf: (m) => m.n, maxBytes: 10 });
  const timerRan: number[] = [];
  setTimeout(() => timerRan.push(sent.length), 0);
  for (const n of [6, 3, 6, 20, 1]) b.push({ t: 'ok', n });
  await Promise.resolve();
  // 6+3 fit; 6 more would not: the first part is sent once the microtasks ran.
  assert.deepEqual(sent, [
    {
      t: 'batch',
      ms: [
        { t: 'ok', n: 6 },
        { t: 'ok', n: 3 },
      ],
    },
  ]);
  b.push({ t: 'ok', n: 2 }); // queued behind the rest, in order
  for (let i = 0; i < 5 && sent.length < 4; i++) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(sent.slice(1), [
    { t: 'ok', n: 6 }, // 6 + 20 would not fit
    { t: 'ok', n: 20 }, // over the budget alone: goes alone
    {
      t: 'batch',
      ms: [
        { t: 'ok', n: 1 },
        { t: 'ok', n: 2 },
      ],
    },
  ]);
  assert.ok(timerRan.length === 1 && timerRan[0]! < 4, `a timer ran between the parts (${String(timerRan)})`);
  // now() sends everything queued first, in order, before its own message.
  for (const n of [8, 8]) b.push({ t: 'ok', n });
  b.now({ t: 'closed', n: 0 });
  assert.deepEqual(sent.slice(4), [
    { t: 'ok', n: 8 },
    { t: 'ok', n: 8 },
    { t: 'closed', n: 0 },
  ]);
});
