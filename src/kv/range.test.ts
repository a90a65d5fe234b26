// The answer byte cap (range.ts): counted while reading, refused once over, keys_only / count_only
// over ranges far bigger than the cap, paging with start_key, reads at a past revision, transactions.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AnswerTooLargeError,
  checkTxnAnswer,
  kvAnswerBytes,
  rangeAnswer,
  RANGE_KV_OVERHEAD_BYTES,
  txnAnswerBytes,
  type RangeQuery,
} from './range.ts';
import type { KeyValue } from './result.ts';
import { KeyStore } from './store.ts';

const KB = 1024;
/** `n` keys big/000.. of `valueBytes` each, plus two keys outside the prefix. */
function storeOf(n: number, valueBytes: number): KeyStore {
  const s = new KeyStore();
  s.set('a', 'before', 1, 1, 1);
  for (let i = 0; i < n; i++) s.set(`big/${String(i).padStart(3, '0')}`, 'v'.repeat(valueBytes), 2, 2 + i, 1);
  s.set('c', 'after', 3, 3, 1);
  return s;
}
/** The AnswerTooLargeError `fn` throws (fails the test if it throws nothing or something else). */
function refusal(fn: () => unknown): AnswerTooLargeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AnswerTooLargeError) return e;
    throw e;
  }
  throw new assert.AssertionError({ message: 'expected AnswerTooLargeError, nothing was thrown' });
}
const q = (over: Partial<RangeQuery> = {}): RangeQuery => ({ prefix: 'big/', limit: 1000, maxBytes: 64 * KB, ...over });

describe('answer byte cap', () => {
  test('an answer under the cap is whole, counted as key + value + overhead per key', () => {
    const a = rangeAnswer(storeOf(6, 10 * KB), q());
    assert.equal(a.kvs.length, 6);
    assert.equal(a.more, false);
    assert.equal(a.bytes, 6 * kvAnswerBytes(7, 10 * KB));
    assert.equal(a.kvs[5]?.key, 'big/005');
    assert.equal(a.kvs[5]?.value.length, 10 * KB);
    assert.deepEqual([a.kvs[5]?.create, a.kvs[5]?.mod, a.kvs[5]?.version], [2, 7, 1]);
  });

  test('an answer over the cap is refused once counting passes it, not after reading the whole range', () => {
    const store = storeOf(500, 10 * KB); // 5 MB in range, cap 64 KiB
    const err = refusal(() => rangeAnswer(store, q()));
    const one = kvAnswerBytes(7, 10 * KB);
    assert.equal(err.keysThatFit, Math.floor((64 * KB) / one));
    // Stopped at the first key over the cap: at most one key past it counted.
    assert.equal(err.answerBytes, (err.keysThatFit + 1) * one);
    assert.ok(err.answerBytes <= 64 * KB + one);
    assert.equal(err.maxBytes, 64 * KB);
    assert.match(err.message, /^answer too large: the answer passed \d+ bytes after 6 keys/);
    assert.match(err.message, /over the limit of 65536 bytes \(--max-response-bytes\)/);
    assert.match(err.message, /a limit of at most 6 and then start_key = the last key returned \+ "\\u0000"/);
    assert.match(err.message, /keys_only or count_only/);
    // The limit the error suggests is answered.
    assert.equal(rangeAnswer(store, q({ limit: err.keysThatFit })).kvs.length, err.keysThatFit);
  });

  test('keys_only and count_only work over a range far bigger than the cap', () => {
    const store = storeOf(500, 10 * KB);
    const keys = rangeAnswer(store, q({ keysOnly: true }));
    assert.equal(keys.kvs.length, 500);
    assert.ok(keys.kvs.every((kv) => kv.value === ''));
    assert.equal(keys.bytes, 500 * kvAnswerBytes(7, 0));
    assert.equal(keys.kvs[499]?.mod, 501);
    const count = rangeAnswer(store, q({ countOnly: true, limit: 1 }));
    assert.deepEqual([count.count, count.kvs.length, count.more], [500, 0, false]);
    // keys_only still has a cap: keys alone over it are refused.
    assert.throws(() => rangeAnswer(store, q({ keysOnly: true, maxBytes: 100 * RANGE_KV_OVERHEAD_BYTES })), {
      name: 'AnswerTooLargeError',
    });
  });

  test('paging with limit and start_key = last key + "\\0" returns every key once, in order', () => {
    const store = storeOf(50, 10 * KB);
    const seen: string[] = [];
    let start = '';
    for (let pages = 0; pages < 100; pages++) {
      const a = rangeAnswer(store, q({ limit: 6, startKey: start }));
      seen.push(...a.kvs.map((kv) => kv.key));
      if (!a.more) break;
      start = `${a.kvs[a.kvs.length - 1]?.key}\u0000`;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 50 }, (_, i) => `big/${String(i).padStart(3, '0')}`),
    );
    // A start key before the prefix changes nothing; one past it ends the range.
    assert.equal(rangeAnswer(store, q({ startKey: 'a', keysOnly: true })).kvs.length, 50);
    assert.equal(rangeAnswer(store, q({ startKey: 'big0' })).kvs.length, 0);
  });

  test('at a past revision: changed keys as they were, in byte order, under the same cap', () => {
    const s = new KeyStore();
    s.set('p/b', 'now-b', 1, 5, 2); // changed after: was "then-b"
    s.set('p/c', 'new', 6, 6, 1); // created after: absent then
    s.set('p/d', 'same', 1, 1, 1);
    const kv = (key: string, value: string): KeyValue => ({ key, value, create: 1, mod: 2, version: 1 });
    const changed = new Map<string, KeyValue | null>([
      ['p/b', kv('p/b', 'then-b')],
      ['p/c', null],
      ['p/a', kv('p/a', 'deleted-since')],
      ['p/\u{1F600}', kv('p/\u{1F600}', 'astral')], // after p/\uFFFF in UTF-8, before it in UTF-16
    ]);
    s.set('p/\uFFFF', 'bmp', 1, 1, 1);
    const a = rangeAnswer(s, { prefix: 'p/', limit: 10, maxBytes: 1 << 20 }, changed);
    assert.deepEqual(
      a.kvs.map((x) => `${x.key}=${x.value}`),
      ['p/a=deleted-since', 'p/b=then-b', 'p/d=same', 'p/\uFFFF=bmp', 'p/\u{1F600}=astral'],
    );
    assert.deepEqual(
      rangeAnswer(s, { prefix: 'p/', limit: 2, maxBytes: 1 << 20 }, changed).kvs.map((x) => x.key),
      ['p/a', 'p/b'],
    );
    assert.equal(rangeAnswer(s, { prefix: 'p/', limit: 1, countOnly: true, maxBytes: 1 }, changed).count, 5);
    assert.throws(() => rangeAnswer(s, { prefix: 'p/', limit: 10, maxBytes: 2 * kvAnswerBytes(3, 13) }, changed), {
      name: 'AnswerTooLargeError',
    });
  });

  test('a transaction: refused before it is proposed when its gets and ranges would pass the cap now', () => {
    const store = storeOf(20, 10 * KB);
    const src = {
      getKv: (key: string): KeyValue | undefined => {
        const r = store.get(key);
        return r === undefined ? undefined : { key, value: r.value, create: r.create, mod: r.mod, version: r.version };
      },
      rangeAnswer: (qq: RangeQuery) => rangeAnswer(store, qq),
    };
    const one = kvAnswerBytes(7, 10 * KB);
    const small = { compares: [], success: [{ op: 'range' as const, prefix: 'big/', limit: 3 }], failure: [] };
    checkTxnAnswer(src, small, 64 * KB);
    const big = {
      compares: [],
      success: [
        { op: 'get' as const, key: 'big/000' },
        { op: 'range' as const, prefix: 'big/', limit: 20 },
      ],
      failure: [],
    };
    const e = refusal(() => checkTxnAnswer(src, big, 64 * KB));
    assert.equal(e.keysThatFit, Math.floor((64 * KB) / one));
    // Only the branch its comparisons choose is counted.
    checkTxnAnswer(src, { ...big, compares: [{ key: 'a', target: 'version', result: '=', number: 9 }] }, 64 * KB);
    const kv = src.getKv('big/000') as KeyValue;
    const results = [
      { op: 'put' as const },
      { op: 'get' as const, kv },
      { op: 'range' as const, kvs: [kv, kv], more: false },
    ];
    assert.equal(txnAnswerBytes(results), 3 * one);
    const after = new AnswerTooLargeError(3 * one, 64, 0, 42);
    assert.match(after.message, /the transaction was applied \(revision 42\) but its answer passed/);
  });
});
