import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { KeyStore, PAGE_MAX_BYTES } from './store.ts';

type Rec = { value: string; create: number; mod: number; version: number };

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function contents(s: KeyStore, start = ''): [string, Rec][] {
  return [...s.from(start)].map(([k, r]) => [k, { value: r.value, create: r.create, mod: r.mod, version: r.version }]);
}

function modelContents(m: Map<string, Rec>, start = ''): [string, Rec][] {
  return [...m.entries()].filter(([k]) => byBytes(k, start) >= 0).sort(([a], [b]) => byBytes(a, b));
}

const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 2000 }).map((n) => `k${n}`),
  fc.constantFrom('', 'a', '\u{1F600}', '\uE000', '\uFFFF', 'é', 'k'),
);
const valueArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 0, max: 3 }).map((n) => 'v'.repeat(n * 3000)),
);

test('KeyStore matches a Map model in byte order, across page splits, views and deletes (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), keyArb, valueArb), { minLength: 300, maxLength: 1500 }),
      (ops) => {
        const s = new KeyStore();
        const m = new Map<string, Rec>();
        let rev = 0;
        let view: { v: ReturnType<KeyStore['freeze']>; expect: [string, Rec][] } | null = null;
        for (const [op, key, value] of ops) {
          if (op <= 5) {
            rev++;
            const prev = m.get(key);
            const r = { value, create: prev?.create ?? rev, mod: rev, version: (prev?.version ?? 0) + 1 };
            s.set(key, value, r.create, r.mod, r.version);
            m.set(key, r);
          } else if (op <= 7) {
            assert.equal(s.delete(key), m.delete(key));
          } else if (op === 8 && view === null) {
            view = { v: s.freeze(), expect: modelContents(m) };
          } else if (view !== null) {
            assert.deepEqual(viewContents(view.v), view.expect);
            s.release(view.v);
            view = null;
          }
          assert.deepEqual(s.get(key) && { ...s.get(key) }, m.get(key));
        }
        assert.equal(s.size, m.size);
        assert.deepEqual(contents(s), modelContents(m));
        assert.deepEqual(contents(s, 'k1'), modelContents(m, 'k1'));
        if (view !== null) assert.deepEqual(viewContents(view.v), view.expect);
        let bytes = 0;
        for (const [k, r] of m) bytes += Buffer.byteLength(k) + Buffer.byteLength(r.value);
        assert.equal(s.bytes, bytes);
      },
    ),
    { numRuns: 60 },
  );
});

function viewContents(v: ReturnType<KeyStore['freeze']>): [string, Rec][] {
  const copy = KeyStore.fromPages(
    v.pages.map((p) => ({ ...p, buf: Buffer.from(p.buf.subarray(0, p.used)), offs: p.offs.slice() })),
    0,
  );
  return contents(copy);
}

test('KeyStore: sequential inserts fill pages; the data costs little more than its bytes', () => {
  const s = new KeyStore();
  const value = 'x'.repeat(100);
  for (let i = 0; i < 20_000; i++) s.set(`key-${String(i).padStart(9, '0')}`, value, i + 1, i + 1, 1);
  assert.equal(s.size, 20_000);
  assert.ok(s.allocatedBytes < s.bytes * 1.3, `${s.allocatedBytes} allocated for ${s.bytes} bytes`);
  assert.ok(s.allocatedBytes > s.bytes);
  assert.equal(s.get('key-000012345')?.value, value);
  assert.ok(PAGE_MAX_BYTES > 0);
});

test('KeyStore: a write reuses the slot of a lookup of the same key only while no other write came between', () => {
  const s = new KeyStore();
  const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
  for (let i = 0; i < 3000; i++) s.set(key(i), 'v', 1, 1, 1);
  assert.equal(s.get(key(500))?.value, 'v');
  // An insert just before it, in the same page, moves it one place on.
  s.set(`${key(499)}a`, 'w', 2, 2, 1);
  s.set(key(500), 'new', 1, 3, 2);
  assert.equal(s.get(key(500))?.value, 'new');
  assert.equal(s.get(`${key(499)}a`)?.value, 'w');
  assert.equal(s.size, 3001);
  // Lookup, then the write of the same key: the slot is reused.
  assert.equal(s.get(key(7))?.version, 1);
  s.set(key(7), 'seven', 1, 4, 2);
  assert.deepEqual({ ...s.get(key(7)) }, { value: 'seven', create: 1, mod: 4, version: 2 });
  assert.equal(s.has(key(8)), true);
  s.delete(key(6));
  assert.equal(s.delete(key(8)), true);
  assert.equal(s.get(key(9))?.value, 'v');
  assert.equal(s.size, 2999);
});
