import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType, type Entry } from '../raft/types.ts';
import { encodeCommand, type Command } from './command.ts';
import type { Compare, TxnOp } from './txn.ts';
import { KvStateMachine, SnapshotDecodeError } from './machine.ts';

/** Feeds commands as consecutive entries starting after the machine's applied index. */
function feed(m: KvStateMachine, cmds: readonly (Command | 'noop' | Uint8Array)[]) {
  return cmds.map((c) => m.apply(entry(m.appliedIndex + 1, c)));
}

function entry(index: number, c: Command | 'noop' | Uint8Array, term = 1): Entry {
  if (c === 'noop') return { index, term, type: EntryType.Noop, data: new Uint8Array(0) };
  return { index, term, type: EntryType.Normal, data: c instanceof Uint8Array ? c : encodeCommand(c) };
}

test('put, get, delete and their results', () => {
  const m = new KvStateMachine();
  assert.deepEqual(feed(m, ['noop', { op: 'put', key: 'a', value: '1' }, { op: 'put', key: 'a', value: '2' }]), [
    null,
    { op: 'put', revision: 1 },
    { op: 'put', prev: '1', revision: 2 },
  ]);
  assert.equal(m.get('a'), '2');
  assert.deepEqual(
    feed(m, [
      { op: 'delete', key: 'a' },
      { op: 'delete', key: 'a' },
    ]),
    [
      { op: 'delete', deleted: true, revision: 3 },
      { op: 'delete', deleted: false, revision: 3 },
    ],
  );
  assert.equal(m.get('a'), undefined);
  assert.equal(m.appliedIndex, 5);
  assert.equal(m.size, 0);
  assert.equal(m.approxBytes, 0);
});

test('compare-and-swap: expected value, expected absent, mismatch reports current', () => {
  const m = new KvStateMachine();
  const r = feed(m, [
    { op: 'cas', key: 'k', expected: null, value: 'v1' },
    { op: 'cas', key: 'k', expected: null, value: 'x' },
    { op: 'cas', key: 'k', expected: 'nope', value: 'x' },
    { op: 'cas', key: 'k', expected: 'v1', value: 'v2' },
    { op: 'cas', key: 'missing', expected: 'v1', value: 'x' },
  ]);
  assert.deepEqual(r, [
    { op: 'cas', swapped: true, revision: 1 },
    { op: 'cas', swapped: false, current: 'v1', revision: 1 },
    { op: 'cas', swapped: false, current: 'v1', revision: 1 },
    { op: 'cas', swapped: true, revision: 2 },
    { op: 'cas', swapped: false, revision: 2 },
  ]);
  assert.equal(m.get('k'), 'v2');
  assert.equal(m.get('missing'), undefined);
});

test('malformed entry data gives an invalid result and the apply loop continues', () => {
  const m = new KvStateMachine();
  const r = feed(m, [Uint8Array.from([7, 7, 7]), { op: 'put', key: 'a', value: '1' }]);
  assert.equal(r[0]?.op, 'invalid');
  assert.deepEqual(r[1], { op: 'put', revision: 1 });
  assert.equal(m.appliedIndex, 2);
});

test('applying out of order is a programmer error', () => {
  const m = new KvStateMachine();
  assert.throws(() => m.apply(entry(2, 'noop')), /out of order/);
});

test('exactly-once: a retried seq returns the original result and is applied once', () => {
  const m = new KvStateMachine();
  const s1 = { clientId: 'c1', seq: 1 };
  const s2 = { clientId: 'c1', seq: 2 };
  const r = feed(m, [
    { op: 'put', key: 'n', value: 'a', session: s1 },
    { op: 'put', key: 'n', value: 'b' }, // someone else writes in between
    { op: 'put', key: 'n', value: 'a', session: s1 }, // retry of seq 1: must NOT overwrite 'b'
    { op: 'cas', key: 'n', expected: 'b', value: 'c', session: s2 },
    { op: 'cas', key: 'n', expected: 'b', value: 'c', session: s2 }, // retry: original "swapped"
    { op: 'put', key: 'n', value: 'z', session: s1 }, // older than the latest seq
  ]);
  assert.deepEqual(r[0], { op: 'put', revision: 1 });
  assert.deepEqual(r[2], { op: 'put', revision: 1 }, 'the original answer, revision included');
  assert.equal(m.get('n'), 'c');
  assert.deepEqual(r[3], { op: 'cas', swapped: true, revision: 3 });
  assert.deepEqual(r[4], { op: 'cas', swapped: true, revision: 3 });
  assert.equal(m.revision, 3);
  assert.deepEqual(r[5], { op: 'session-stale', clientId: 'c1', seq: 1, lastSeq: 2 });
  // An unknown client starting past seq 1 cannot be told from a retry after eviction.
  assert.deepEqual(feed(m, [{ op: 'delete', key: 'n', session: { clientId: 'new', seq: 4 } }]), [
    { op: 'session-expired', clientId: 'new', seq: 4 },
  ]);
  assert.equal(m.get('n'), 'c');
});

test('sessions: LRU eviction beyond maxSessions, and idle expiry by log index', () => {
  const m = new KvStateMachine({ sessions: { maxSessions: 2, maxIdleEntries: 5 } });
  feed(m, [
    { op: 'put', key: 'a', value: '1', session: { clientId: 'A', seq: 1 } },
    { op: 'put', key: 'b', value: '1', session: { clientId: 'B', seq: 1 } },
    { op: 'put', key: 'a', value: '2', session: { clientId: 'A', seq: 2 } }, // A is now most recent
    { op: 'put', key: 'c', value: '1', session: { clientId: 'C', seq: 1 } }, // evicts B
  ]);
  assert.equal(m.sessionCount, 2);
  assert.deepEqual(feed(m, [{ op: 'put', key: 'b', value: '2', session: { clientId: 'B', seq: 2 } }])[0], {
    op: 'session-expired',
    clientId: 'B',
    seq: 2,
  });
  // A last touched at index 3; at index 9 it has been idle 6 > 5 entries.
  feed(m, ['noop', 'noop', 'noop']);
  assert.equal(m.appliedIndex, 8);
  assert.equal(m.sessionCount, 2);
  feed(m, ['noop']);
  assert.equal(m.sessionCount, 1);
});

test('range: prefix, limit, sorted order, deletes reflected', () => {
  const m = new KvStateMachine();
  const keys = ['b/2', 'a', 'b/1', 'b/10', 'c', 'b', 'b/3'];
  feed(
    m,
    keys.map((k) => ({ op: 'put' as const, key: k, value: `v:${k}` })),
  );
  assert.deepEqual(
    m.range('b/', 10).map((e) => e.key),
    ['b/1', 'b/10', 'b/2', 'b/3'],
  );
  assert.deepEqual(m.range('b/', 2), [
    { key: 'b/1', value: 'v:b/1' },
    { key: 'b/10', value: 'v:b/10' },
  ]);
  assert.deepEqual(
    m.range('', 3).map((e) => e.key),
    ['a', 'b', 'b/1'],
  );
  assert.deepEqual(m.range('zz', 5), []);
  assert.deepEqual(m.range('b/', 0), []);
  feed(m, [{ op: 'delete', key: 'b/10' }]);
  assert.deepEqual(
    m.range('b/1', 5).map((e) => e.key),
    ['b/1'],
  );
});

test('range over 100k keys with a limit stays cheap (no full sort per call)', () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 100_000; i++)
    m.apply(entry(i + 1, { op: 'put', key: `user/${(i * 7919) % 100_000}`, value: 'x' }));
  // 1000 scans: if each sorted 100k keys this would take minutes; the index makes it milliseconds.
  for (let i = 0; i < 1000; i++) assert.equal(m.range(`user/${(i % 9) + 1}`, 100).length, 100);
  assert.deepEqual(
    m.range('user/1999', 3).map((e) => e.key),
    ['user/1999', 'user/19990', 'user/19991'],
  );
});

const arbKey = fc.constantFrom('a', 'b', 'c', 'd', 'é', '日本');
const arbTxnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: arbKey, value: fc.string({ maxLength: 3 }) }),
  fc.record({ op: fc.constant('delete' as const), key: arbKey }),
  fc.record({ op: fc.constant('get' as const), key: arbKey }),
  fc.record({
    op: fc.constant('range' as const),
    prefix: fc.constantFrom('', 'a', 'd'),
    limit: fc.integer({ min: 1, max: 3 }),
  }),
);
const arbCompare: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({
    key: arbKey,
    target: fc.constant('value' as const),
    result: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value: fc.string({ maxLength: 2 }),
  }),
  fc.record({
    key: arbKey,
    target: fc.constantFrom('version' as const, 'create' as const, 'mod' as const),
    result: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    number: fc.nat(6),
  }),
);
const arbTxn: fc.Arbitrary<Command> = fc
  .record({
    compares: fc.array(arbCompare, { maxLength: 3 }),
    success: fc.array(arbTxnOp, { maxLength: 4 }),
    failure: fc.array(arbTxnOp, { maxLength: 2 }),
    client: fc.option(fc.constantFrom('c1', 'c2'), { nil: null }),
    seq: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ compares, success, failure, client, seq }) => {
    // fast-check records have a null prototype; the decoder builds plain objects.
    const plain = <T>(xs: T[]): T[] => xs.map((x) => ({ ...x }));
    const base = { op: 'txn' as const, compares: plain(compares), success: plain(success), failure: plain(failure) };
    return client === null ? base : { ...base, session: { clientId: client, seq } };
  });

// TTL grants and compaction (ids are entry indexes: small ones hit real grants in short logs).
const arbTtl: fc.Arbitrary<Command> = fc
  .oneof(
    fc.record({ op: fc.constant('ttl-grant' as const), ttlMs: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({
      op: fc.constantFrom('ttl-revoke' as const, 'ttl-expire' as const),
      id: fc.integer({ min: 1, max: 30 }),
    }),
    fc.record({
      op: fc.constant('put' as const),
      key: arbKey,
      value: fc.string({ maxLength: 3 }),
      ttl: fc.integer({ min: 1, max: 30 }),
    }),
    fc.record({ op: fc.constant('compact' as const), revision: fc.integer({ min: 0, max: 40 }) }),
  )
  .map((c) => ({ ...c }) as Command);

const arbOp: fc.Arbitrary<Command | 'noop' | Uint8Array> = fc.oneof(
  fc.constant('noop' as const),
  arbTxn,
  arbTtl,
  fc.uint8Array({ maxLength: 6 }),
  fc
    .record({
      op: fc.constantFrom('put' as const, 'delete' as const, 'cas' as const),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'é', '日本'),
      value: fc.string({ maxLength: 5 }),
      expected: fc.option(fc.string({ maxLength: 2 }), { nil: null }),
      client: fc.option(fc.constantFrom('c1', 'c2', 'c3', 'c4', 'c5'), { nil: null }),
      seq: fc.integer({ min: 1, max: 4 }),
    })
    .map(({ op, key, value, expected, client, seq }): Command => {
      const session = client === null ? undefined : { clientId: client, seq };
      const base = op === 'put' ? { op, key, value } : op === 'delete' ? { op, key } : { op, key, expected, value };
      return (session === undefined ? base : { ...base, session }) as Command;
    }),
);

test('determinism and snapshot round-trip (property): same log → same state and bytes', () => {
  const config = { sessions: { maxSessions: 3, maxIdleEntries: 20 } };
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 120 }), fc.nat(), (ops, cutRaw) => {
      const a = new KvStateMachine(config);
      const b = new KvStateMachine(config);
      const ra = feed(a, ops);
      const rb = feed(b, ops);
      assert.deepEqual(ra, rb);
      const snap = a.snapshot();
      assert.deepEqual(b.snapshot(), snap);
      const restored = KvStateMachine.restore(snap, config);
      assert.deepEqual(restored.snapshot(), snap);
      assert.equal(restored.appliedIndex, a.appliedIndex);
      assert.equal(restored.approxBytes, a.approxBytes);
      assert.equal(restored.revision, a.revision);
      assert.equal(restored.compactRevision, a.compactRevision);
      assert.deepEqual(restored.ttlGrants(), a.ttlGrants());
      assert.deepEqual(restored.rangeKvs('', 1000), a.rangeKvs('', 1000));
      assert.deepEqual(restored.range('', 1000), a.range('', 1000));
      // A machine restored mid-log and fed the rest ends identical to one fed the whole log.
      const cut = ops.length === 0 ? 0 : cutRaw % ops.length;
      const first = new KvStateMachine(config);
      feed(first, ops.slice(0, cut));
      const resumed = KvStateMachine.restore(first.snapshot(), config);
      assert.deepEqual(feed(resumed, ops.slice(cut)), ra.slice(cut));
      assert.deepEqual(resumed.snapshot(), snap);
    }),
    { numRuns: 200 },
  );
});

test('corrupt snapshots are rejected with SnapshotDecodeError and leave the machine unchanged', () => {
  const m = new KvStateMachine();
  feed(m, [{ op: 'put', key: 'k', value: 'v', session: { clientId: 'c', seq: 1 } }]);
  const snap = m.snapshot();
  const target = new KvStateMachine();
  feed(target, [{ op: 'put', key: 'mine', value: 'x' }]);
  const flipped = Uint8Array.from(snap);
  flipped[8] = (flipped[8] as number) ^ 1;
  for (const bad of [new Uint8Array(0), snap.subarray(0, snap.length - 1), flipped, Uint8Array.from([...snap, 0])]) {
    assert.throws(() => target.restore(bad), SnapshotDecodeError);
  }
  assert.equal(target.get('mine'), 'x');
  assert.equal(target.appliedIndex, 1);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      assert.throws(() => target.restore(bytes), SnapshotDecodeError);
    }),
  );
});

test('snapshotAsync/restoreAsync: same bytes as the sync forms, and the event loop keeps turning', async () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 40_000; i++) m.apply(entry(i + 1, { op: 'put', key: `k${i}`, value: `v${i}` }));
  feed(m, [{ op: 'put', key: 'k1', value: 'x', session: { clientId: 'c', seq: 1 } }]);
  const sync = m.snapshot();
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  try {
    const pending = m.snapshotAsync();
    // Applying while the async snapshot encodes does not change what it captured (copy-on-write):
    // overwrites early and late in key order, a delete, an insert, a re-insert after delete.
    feed(m, [
      { op: 'put', key: 'late', value: 'later' },
      { op: 'put', key: 'k10', value: 'changed' },
      { op: 'put', key: 'k9999', value: 'changed' },
      { op: 'delete', key: 'k20000' },
      { op: 'delete', key: 'k30000' },
      { op: 'put', key: 'k30000', value: 'back' },
      { op: 'put', key: 'k10', value: 'changed again' },
    ]);
    const asyncBytes = await pending;
    assert.deepEqual(asyncBytes, sync);
    const target = new KvStateMachine();
    const restoring = target.restoreAsync(asyncBytes);
    assert.throws(() => target.apply(entry(1, 'noop')), /during restoreAsync/);
    assert.equal(target.size, 0, 'old state visible until the swap');
    await restoring;
    assert.deepEqual(target.snapshot(), sync);
    assert.ok(turns > 0, 'timers ran while the snapshot was encoded/decoded');
    await assert.rejects(target.restoreAsync(sync.subarray(0, 100)), SnapshotDecodeError);
    assert.equal(target.size, 40_000);
  } finally {
    clearInterval(ticker);
  }
});

test('snapshotAsync: two overlapping snapshots (periodic + backup) each capture the state at their own call', async () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 40_000; i++) m.apply(entry(i + 1, { op: 'put', key: `k${i}`, value: `v${i}` }));
  const atFirst = m.snapshot();
  const first = m.snapshotAsync();
  feed(m, [
    { op: 'put', key: 'k5', value: 'second' },
    { op: 'delete', key: 'k39999' },
  ]);
  const atSecond = m.snapshot();
  const second = m.snapshotAsync();
  feed(m, [
    { op: 'put', key: 'k5', value: 'third' },
    { op: 'put', key: 'k39999', value: 'back' },
    { op: 'put', key: 'k7', value: 'third' },
  ]);
  assert.deepEqual(await first, atFirst);
  assert.deepEqual(await second, atSecond);
  assert.notDeepEqual(atFirst, atSecond);
});
