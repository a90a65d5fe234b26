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
