import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOT_MEMO_MAX_CHARS, SLOT_MEMO_MAX_KEYS, SlotMemo } from './slot-memo.ts';
import { KeyStore } from './store.ts';

test('SlotMemo: remembers page and position, forgets on clear, stays within its bound', () => {
  const m = new SlotMemo();
  const out = { pi: -1, pos: -1 };
  assert.equal(m.get('a', out), false);
  m.remember('a', 7000, 65_535);
  assert.equal(m.get('a', out), true);
  assert.deepEqual(out, { pi: 7000, pos: 65_535 });
  m.remember('big', 1, 65_536); // beyond the encoding: not remembered
  assert.equal(m.get('big', out), false);
  m.clear();
  assert.equal(m.get('a', out), false);
  for (let i = 0; i < SLOT_MEMO_MAX_KEYS * 2 + 5; i++) m.remember(`k${i}`, 0, i % 100);
  assert.ok(m.size <= SLOT_MEMO_MAX_KEYS);
  // Long keys: bounded in total length too, and a very long one is not kept at all.
  m.clear();
  m.remember('x'.repeat(5000), 0, 0);
  assert.equal(m.size, 0);
  for (let i = 0; i < 2000; i++) m.remember(`${i}`.padEnd(1000, 'k'), 0, 1);
  assert.ok(m.keyChars <= SLOT_MEMO_MAX_CHARS, `${m.keyChars} chars`);
  assert.ok(m.size > 0);
});

test('KeyStore: lookups past the memo bound, then replaces, inserts and deletes, read back right', () => {
  const s = new KeyStore();
  const key = (i: number): string => `key-${String(i).padStart(6, '0')}`;
  const n = SLOT_MEMO_MAX_KEYS + 2000;
  for (let i = 0; i < n; i += 2) s.set(key(i), `v${i}`, 1, 1, 1);
  for (let round = 0; round < 2; round++) for (let i = 0; i < n; i += 2) assert.equal(s.get(key(i))?.value, `v${i}`);
  // Replaces keep positions; a value large enough to split its page moves them.
  s.set(key(10), 'x'.repeat(20_000), 1, 2, 2);
  for (let i = 0; i < n; i += 2) assert.equal(s.get(key(i))?.value, i === 10 ? 'x'.repeat(20_000) : `v${i}`);
  // Inserts and deletes between remembered keys.
  for (let i = 1; i < 400; i += 2) s.set(key(i), `odd${i}`, 3, 3, 1);
  for (let i = 0; i < 400; i += 4) assert.equal(s.delete(key(i)), true);
  for (let i = 0; i < 600; i++) {
    const want =
      i < 400 && i % 4 === 0
        ? undefined
        : i % 2 === 1
          ? i < 400
            ? `odd${i}`
            : undefined
          : i === 10
            ? 'x'.repeat(20_000)
            : `v${i}`;
    assert.equal(s.get(key(i))?.value, want, key(i));
  }
});
