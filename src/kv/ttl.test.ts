// TTL grants in the state machine (issue 14): grant, attach on put, end (revoke/expire) deletes the
// keys at one revision, detaching, snapshots.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType } from '../raft/types.ts';
import { decodeCommand, encodeCommand, type Command } from './command.ts';
import { KvStateMachine, type ChangeEvent } from './machine.ts';

function feed(m: KvStateMachine, cmds: readonly Command[]) {
  return cmds.map((c) =>
    m.apply({ index: m.appliedIndex + 1, term: 1, type: EntryType.Normal, data: encodeCommand(c) }),
  );
}

test('grant, attach, expire: the keys go at one revision (watchers see it as one change); others stay', () => {
  const m = new KvStateMachine();
  const seen: [number, readonly ChangeEvent[]][] = [];
  m.observer = (rev, evs) => seen.push([rev, evs]);
  const ttlSeen: unknown[] = [];
  m.ttlObserver = (e) => ttlSeen.push(e);
  const [g] = feed(m, [{ op: 'ttl-grant', ttlMs: 3000 }]);
  assert.deepEqual(g, { op: 'ttl-grant', id: 1, ttlMs: 3000, revision: 0 });
  feed(m, [
    { op: 'put', key: 'svc/a', value: 'x', ttl: 1 },
    { op: 'put', key: 'svc/b', value: 'y', ttl: 1 },
    { op: 'put', key: 'svc/c', value: 'z' },
  ]);
  assert.equal(m.ttlOfKey('svc/a'), 1);
  assert.deepEqual(feed(m, [{ op: 'put', key: 'k', value: 'v', ttl: 99 }]), [
    { op: 'ttl-not-found', id: 99, revision: 3 },
  ]);
  assert.equal(m.get('k'), undefined);
  seen.length = 0;
  assert.deepEqual(feed(m, [{ op: 'ttl-expire', id: 1 }]), [{ op: 'ttl-expire', found: true, revision: 4 }]);
  assert.deepEqual(
    seen.map(([rev, evs]) => [rev, evs.map((e) => `${e.type} ${e.kv.key}`)]),
    [[4, ['delete svc/a', 'delete svc/b']]],
  );
  assert.deepEqual(
    m.rangeKvs('svc/', 10).map((kv) => kv.key),
    ['svc/c'],
  );
  assert.deepEqual(feed(m, [{ op: 'ttl-revoke', id: 1 }]), [{ op: 'ttl-revoke', found: false, revision: 4 }]);
  assert.deepEqual(ttlSeen, [
    { kind: 'granted', id: 1, ttlMs: 3000 },
    { kind: 'ended', id: 1 },
  ]);
});

test('a write without the TTL detaches the key; a delete too; the grant itself stays', () => {
  const m = new KvStateMachine();
  feed(m, [
    { op: 'ttl-grant', ttlMs: 1000 },
    { op: 'put', key: 'a', value: '1', ttl: 1 },
    { op: 'put', key: 'b', value: '1', ttl: 1 },
  ]);
  feed(m, [
    { op: 'put', key: 'a', value: '2' },
    { op: 'delete', key: 'b' },
    { op: 'put', key: 'b', value: 'again' },
  ]);
  assert.equal(m.ttlOfKey('a'), undefined);
  feed(m, [{ op: 'ttl-revoke', id: 1 }]);
  assert.equal(m.get('a'), '2');
  assert.equal(m.get('b'), 'again');
  assert.deepEqual(m.ttlGrants(), []);
});

test('grants and their keys are in snapshots; commands round-trip; a grant retried with its session is made once', () => {
  const m = new KvStateMachine();
  const s = { clientId: 'c', seq: 1 };
  const r = feed(m, [
    { op: 'ttl-grant', ttlMs: 500, session: s },
    { op: 'ttl-grant', ttlMs: 500, session: s },
    { op: 'ttl-grant', ttlMs: 700 },
    { op: 'put', key: 'x', value: '1', ttl: 3 },
  ]);
  assert.deepEqual(r[1], r[0], 'the retry gets the original answer');
  assert.deepEqual(m.ttlGrants(), [
    { id: 1, ttlMs: 500 },
    { id: 3, ttlMs: 700 },
  ]);
  const copy = KvStateMachine.restore(m.snapshot());
  assert.deepEqual(copy.ttlGrants(), m.ttlGrants());
  assert.equal(copy.ttlOfKey('x'), 3);
  assert.deepEqual(copy.snapshot(), m.snapshot());
  for (const c of [
    { op: 'ttl-grant', ttlMs: 5 },
    { op: 'ttl-expire', id: 7 },
    { op: 'ttl-revoke', id: 8, session: s },
    { op: 'put', key: 'k', value: 'v', ttl: 9 },
  ] as Command[]) {
    assert.deepEqual(decodeCommand(encodeCommand(c)), c);
  }
});

test('each grant counts its keys and their bytes (UTF-8): put, overwrite, txn put, delete, end, snapshot', () => {
  const m = new KvStateMachine();
  feed(m, [
    { op: 'ttl-grant', ttlMs: 3000 },
    { op: 'ttl-grant', ttlMs: 3000 },
  ]);
  assert.deepEqual(m.ttlAttached(1), { keys: 0, bytes: 0 });
  assert.equal(m.ttlAttached(99), undefined);
  feed(m, [
    { op: 'put', key: 'a', value: 'xyz', ttl: 1 }, // 4 bytes
    { op: 'put', key: 'bé', value: 'é', ttl: 1 }, // 3 + 2
  ]);
  assert.deepEqual(m.ttlAttached(1), { keys: 2, bytes: 9 });
  feed(m, [{ op: 'put', key: 'a', value: 'x'.repeat(10), ttl: 1 }]); // same grant, longer value
  assert.deepEqual(m.ttlAttached(1), { keys: 2, bytes: 16 });
  feed(m, [{ op: 'put', key: 'a', value: 'q', ttl: 2 }]); // moves to grant 2
  assert.deepEqual(m.ttlAttached(1), { keys: 1, bytes: 5 });
  assert.deepEqual(m.ttlAttached(2), { keys: 1, bytes: 2 });
  const restored = KvStateMachine.restore(m.snapshot());
  assert.deepEqual(restored.ttlAttached(1), { keys: 1, bytes: 5 });
  assert.deepEqual(restored.ttlAttached(2), { keys: 1, bytes: 2 });
  feed(m, [
    { op: 'txn', compares: [], success: [{ op: 'put', key: 'a', value: 'detached' }], failure: [] },
    { op: 'delete', key: 'bé' },
  ]);
  assert.deepEqual(m.ttlAttached(1), { keys: 0, bytes: 0 });
  assert.deepEqual(m.ttlAttached(2), { keys: 0, bytes: 0 });
  feed(m, [{ op: 'ttl-revoke', id: 2 }]);
  assert.equal(m.ttlAttached(2), undefined);
});
