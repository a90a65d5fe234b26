// count_only Ranges are counted by the store's pages (KeyStore.countBetween), not by scanning every
// key: the same counts as a scan over many pages, prefixes, start keys, deletes, frozen views and
// reads at a past revision — and no entry is visited.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefixEnd, rangeAnswer } from './range.ts';
import type { KeyValue } from './result.ts';
import { KeyStore } from './store.ts';

/** A seeded generator (mulberry32): the same keys on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', 'z', '\u00e9', '\uFFFF', '\u{1F600}'];

/** The count as a scan would give it: every key with the prefix, from the start key on. */
function scanned(store: KeyStore, prefix: string, startKey: string | undefined): number {
  return rangeAnswer(store, {
    prefix,
    limit: 1_000_000,
    keysOnly: true,
    maxBytes: Number.MAX_SAFE_INTEGER,
    ...(startKey === undefined ? {} : { startKey }),
  }).kvs.length;
}
const counted = (store: KeyStore, prefix: string, startKey?: string, changed?: Map<string, KeyValue | null>): number =>
  rangeAnswer(
    store,
    { prefix, limit: 1, countOnly: true, maxBytes: 1, ...(startKey === undefined ? {} : { startKey }) },
    changed,
  ).count as number;

test('count_only equals the scan over many pages, prefixes and start keys, after inserts, deletes and a freeze', () => {
  const random = rng(13);
  const pick = (): string => ALPHABET[Math.floor(random() * ALPHABET.length)] as string;
  const store = new KeyStore();
  const word = (n: number): string => Array.from({ length: n }, pick).join('');
  for (let i = 0; i < 20_000; i++)
    store.set(word(1 + Math.floor(random() * 4)) + String(i % 97), 'v'.repeat(60), 1, 1, 1);
  const view = store.freeze(); // pages shared with a view are copied on write: counts must not care
  for (let i = 0; i < 4000; i++) store.delete(word(1 + Math.floor(random() * 4)) + String(i % 97));
  assert.ok(store.peek().pages.length > 40, `only ${store.peek().pages.length} pages`);
  const prefixes = ['', 'a', 'b', 'zz', '\u00e9', '\uFFFF', '\u{1F600}', 'a\u{1F600}', 'q', 'cab'];
  for (const prefix of prefixes) {
    for (const startKey of [undefined, '', 'a', 'b\uFFFF', prefix + 'c', prefix + '\u{1F600}', '\u{1F600}\u{1F600}z']) {
      assert.equal(
        counted(store, prefix, startKey),
        scanned(store, prefix, startKey),
        `prefix ${JSON.stringify(prefix)} from ${JSON.stringify(startKey)}`,
      );
    }
  }
  assert.equal(counted(store, ''), store.size);
  store.release(view);
});

test('count_only reads no entry: the store is not scanned', () => {
  const store = new KeyStore();
  for (let i = 0; i < 5000; i++) store.set(`k/${String(i).padStart(5, '0')}`, 'x'.repeat(100), 1, 1, 1);
  store.scan = () => assert.fail('count_only scanned the store');
  assert.equal(counted(store, 'k/'), 5000);
  assert.equal(counted(store, 'k/01'), 1000);
  assert.equal(counted(store, 'k/', 'k/04990'), 10);
});

test('at a past revision: keys changed since are counted as they were', () => {
  const store = new KeyStore();
  for (const k of ['p/a', 'p/b', 'p/c', 'q/a']) store.set(k, 'now', 1, 5, 1);
  const kv = (key: string): KeyValue => ({ key, value: 'then', create: 1, mod: 2, version: 1 });
  const changed = new Map<string, KeyValue | null>([
    ['p/a', null], // created since: not there then
    ['p/b', kv('p/b')], // changed since: there then and now
    ['p/z', kv('p/z')], // deleted since: there then
    ['q/z', kv('q/z')], // outside the prefix
  ]);
  assert.equal(counted(store, 'p/', undefined, changed), 3); // p/b p/c p/z
  assert.equal(counted(store, 'p/', 'p/c', changed), 2); // p/c p/z
});

test('prefixEnd: the first byte string after the prefix', () => {
  assert.equal(prefixEnd(Buffer.from('')), null);
  assert.deepEqual(prefixEnd(Buffer.from('ab')), Buffer.from('ac'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from('b'));
  assert.equal(prefixEnd(Buffer.from([0xff])), null);
});
