// The watch history's encoding (watch-history.ts): what goes in comes back out, across chunks and
// after the front is dropped; a key filter skips what it does not want.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ChangeEvent } from './state.ts';
import { HistoryLog } from './watch-history.ts';

const kv = fc
  .record({
    key: fc.string({ unit: 'grapheme', maxLength: 40 }),
    value: fc.string({ unit: 'grapheme', maxLength: 300 }),
    create: fc.nat(),
    mod: fc.maxSafeNat(),
    version: fc.nat(),
  })
  .map((r) => ({ ...r })); // plain objects, as the state machine makes (fc.record's have no prototype)
const event: fc.Arbitrary<ChangeEvent> = fc
  .tuple(fc.constantFrom('put' as const, 'delete' as const), kv, fc.option(kv, { nil: undefined }), fc.boolean())
  .map(([type, k, prev, sameKey]) =>
    prev === undefined ? { type, kv: k } : { type, kv: k, prev: sameKey ? { ...prev, key: k.key } : prev },
  );

test('revisions read back as they were pushed, across chunks and after the front is dropped', () => {
  fc.assert(
    fc.property(fc.array(fc.array(event, { maxLength: 4 }), { minLength: 1, maxLength: 60 }), fc.nat(), (revs, cut) => {
      const h = new HistoryLog();
      revs.forEach((events, i) => h.push(10 + i, events, i * 7));
      assert.equal(h.length, revs.length);
      revs.forEach((events, i) => {
        assert.equal(h.revision(i), 10 + i);
        assert.equal(h.bytes(i), i * 7);
        assert.deepEqual(h.events(i), events);
      });
      const n = cut % (revs.length + 1);
      h.dropFront(n);
      assert.equal(h.length, revs.length - n);
      for (let i = 0; i < h.length; i++) assert.deepEqual(h.events(i), revs[n + i]);
    }),
    { numRuns: 200 },
  );
});

test('large values spill into chunks of their own; a filter decodes only the keys it wants', () => {
  const h = new HistoryLog();
  const big = 'é'.repeat(200_000); // 400,000 UTF-8 bytes: more than a chunk
  const evs = (i: number): ChangeEvent[] => [
    { type: 'put', kv: { key: `a/${i}`, value: i % 3 === 0 ? big : `v${i}`, create: 1, mod: i, version: i } },
    {
      type: 'delete',
      kv: { key: `b/${i}`, value: '', create: 0, mod: i, version: 0 },
      prev: { key: `b/${i}`, value: 'old', create: 1, mod: 1, version: 1 },
    },
  ];
  for (let i = 1; i <= 2000; i++) h.push(i, evs(i), 1);
  for (let i = 0; i < 2000; i += 97) assert.deepEqual(h.events(i), evs(i + 1));
  assert.deepEqual(
    h.events(4, (k) => k.startsWith('b/')),
    [evs(5)[1]],
  );
  h.dropFront(1999);
  assert.deepEqual(h.events(0), evs(2000));
  h.dropFront(1);
  assert.equal(h.length, 0);
  h.push(5000, evs(7), 1);
  assert.deepEqual(h.events(0), evs(7));
});
