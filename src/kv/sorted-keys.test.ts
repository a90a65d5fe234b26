import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SortedKeys } from './sorted-keys.ts';

test('SortedKeys matches a sorted-set model under inserts and deletes (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 4000 }), (ops) => {
      const s = new SortedKeys();
      const model = new Set<string>();
      for (const [ins, n] of ops) {
        const k = `k${n}`;
        if (ins && !model.has(k)) {
          s.insert(k);
          model.add(k);
        } else if (!ins && model.has(k)) {
          s.delete(k);
          model.delete(k);
        }
      }
      const expected = [...model].sort();
      assert.deepEqual([...s.from('')], expected);
      assert.equal(s.size, model.size);
      assert.deepEqual(
        [...s.from('k2')],
        expected.filter((k) => k >= 'k2'),
      );
    }),
    { numRuns: 30 },
  );
});

test('fromSorted builds a usable index', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `key${String(i).padStart(5, '0')}`);
  const s = SortedKeys.fromSorted(keys);
  s.insert('key00000a');
  s.delete('key04999');
  const all = [...s.from('')];
  assert.equal(all.length, 5000);
  assert.equal(all[1], 'key00000a');
  assert.equal(all.at(-1), 'key04998');
});

test('delete of a missing key is a loud programmer error', () => {
  const s = new SortedKeys();
  s.insert('a');
  assert.throws(() => s.delete('b'));
});
