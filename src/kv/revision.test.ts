// Revisions and transactions in the state machine (issue 14).
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { EntryType } from '../raft/types.ts';
import { ByteWriter } from '../util/bytes.ts';
import { decodeCommand, encodeCommand, type Command } from './command.ts';
import { KvStateMachine, type ChangeEvent } from './machine.ts';

function feed(m: KvStateMachine, cmds: readonly (Command | 'noop')[]) {
  return cmds.map((c) =>
    m.apply(
      c === 'noop'
        ? { index: m.appliedIndex + 1, term: 1, type: EntryType.Noop, data: new Uint8Array(0) }
        : { index: m.appliedIndex + 1, term: 1, type: EntryType.Normal, data: encodeCommand(c) },
    ),
  );
}

test('revisions: one per changing command; create/mod/version per key; no-op writes keep the revision', () => {
  const m = new KvStateMachine();
  feed(m, [
    { op: 'put', key: 'a', value: '1' }, // rev 1
    'noop',
    { op: 'put', key: 'b', value: '1' }, // rev 2
    { op: 'put', key: 'a', value: '2' }, // rev 3
    { op: 'delete', key: 'zz' }, // nothing deleted: still 3
    { op: 'cas', key: 'a', expected: 'nope', value: 'x' }, // not swapped: still 3
    { op: 'cas', key: 'a', expected: '2', value: '3' }, // rev 4
  ]);
  assert.equal(m.revision, 4);
  assert.deepEqual(m.getKv('a'), { key: 'a', value: '3', create: 1, mod: 4, version: 3 });
  assert.deepEqual(m.getKv('b'), { key: 'b', value: '1', create: 2, mod: 2, version: 1 });
  // Deleted and re-created: a new life (create revision and version start over).
  feed(m, [
    { op: 'delete', key: 'a' },
    { op: 'put', key: 'a', value: 'again' },
  ]);
  assert.deepEqual(m.getKv('a'), { key: 'a', value: 'again', create: 6, mod: 6, version: 1 });
  assert.deepEqual(
    m.rangeKvs('', 10).map((kv) => kv.mod),
    [6, 2],
  );
});

test('txn: compares on several keys, then success or failure, all writes at one revision', () => {
  const m = new KvStateMachine();
  feed(m, [
    { op: 'put', key: 'x', value: '1' },
    { op: 'put', key: 'y', value: '1' },
  ]);
  const [ok] = feed(m, [
    {
      op: 'txn',
      compares: [
        { key: 'x', target: 'value', result: '=', value: '1' },
        { key: 'y', target: 'mod', result: '=', number: 2 },
        { key: 'absent', target: 'version', result: '=', number: 0 },
      ],
      success: [
        { op: 'put', key: 'x', value: '2' },
        { op: 'delete', key: 'y' },
        { op: 'get', key: 'x' },
        { op: 'range', prefix: '', limit: 1 },
      ],
      failure: [{ op: 'put', key: 'failed', value: '!' }],
    },
  ]);
  assert.deepEqual(ok, {
    op: 'txn',
    succeeded: true,
    revision: 3,
    results: [
      { op: 'put' },
      { op: 'delete', deleted: true },
      { op: 'get', kv: { key: 'x', value: '2', create: 1, mod: 3, version: 2 } },
      { op: 'range', kvs: [{ key: 'x', value: '2', create: 1, mod: 3, version: 2 }], more: false },
    ],
  });
  assert.equal(m.get('y'), undefined);
  assert.equal(m.get('failed'), undefined);
  // One compare fails: only `failure` runs.
  const [no] = feed(m, [
    {
      op: 'txn',
      compares: [
        { key: 'x', target: 'value', result: '=', value: '2' },
        { key: 'y', target: 'version', result: '>', number: 0 },
      ],
      success: [{ op: 'put', key: 'x', value: 'bad' }],
      failure: [
        { op: 'get', key: 'y' },
        { op: 'put', key: 'failed', value: '!' },
      ],
    },
  ]);
  assert.deepEqual(no, { op: 'txn', succeeded: false, revision: 4, results: [{ op: 'get' }, { op: 'put' }] });
  assert.equal(m.get('x'), '2');
  // A read-only transaction does not bump the revision.
  const [ro] = feed(m, [{ op: 'txn', compares: [], success: [{ op: 'get', key: 'x' }], failure: [] }]);
  assert.equal(ro?.op === 'txn' && ro.revision, 4);
  assert.equal(m.revision, 4);
});

test('compares: value on an absent key is false; numeric operators; < and > on values', () => {
  const m = new KvStateMachine();
  feed(m, [{ op: 'put', key: 'k', value: 'b' }]);
  const holds = (c: Command & { op: 'txn' }): boolean => {
    const [r] = feed(m, [c]);
    return r?.op === 'txn' && r.succeeded;
  };
  const one = (compare: (Command & { op: 'txn' })['compares'][number]): boolean =>
    holds({ op: 'txn', compares: [compare], success: [], failure: [] });
  assert.equal(one({ key: 'none', target: 'value', result: '!=', value: 'b' }), false);
  assert.equal(one({ key: 'k', target: 'value', result: '<', value: 'c' }), true);
  assert.equal(one({ key: 'k', target: 'value', result: '>', value: 'c' }), false);
  assert.equal(one({ key: 'k', target: 'create', result: '=', number: 1 }), true);
  assert.equal(one({ key: 'k', target: 'mod', result: '<', number: 1 }), false);
  assert.equal(one({ key: 'k', target: 'version', result: '!=', number: 1 }), false);
  assert.equal(one({ key: 'none', target: 'create', result: '=', number: 0 }), true);
});

test('txn commands round-trip through their encoding', () => {
  const cmd: Command = {
    op: 'txn',
    compares: [
      { key: 'a', target: 'value', result: '!=', value: 'é' },
      { key: 'b', target: 'mod', result: '>', number: 12345678901 },
    ],
    success: [
      { op: 'put', key: 'a', value: 'v' },
      { op: 'range', prefix: 'p/', limit: 7 },
    ],
    failure: [
      { op: 'delete', key: 'a' },
      { op: 'get', key: 'b' },
    ],
    session: { clientId: 'c', seq: 9 },
  };
  assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
});

test('the observer sees each changing command once, all its events at its revision, with prev', () => {
  const m = new KvStateMachine();
  const seen: [number, readonly ChangeEvent[]][] = [];
  m.observer = (rev, evs) => seen.push([rev, evs]);
  feed(m, [
    { op: 'put', key: 'a', value: '1' },
    { op: 'delete', key: 'nothing' },
    {
      op: 'txn',
      compares: [],
      success: [
        { op: 'put', key: 'b', value: '1' },
        { op: 'delete', key: 'a' },
      ],
      failure: [],
    },
  ]);
  assert.deepEqual(seen, [
    [1, [{ type: 'put', kv: { key: 'a', value: '1', create: 1, mod: 1, version: 1 } }]],
    [
      2,
      [
        { type: 'put', kv: { key: 'b', value: '1', create: 2, mod: 2, version: 1 } },
        {
          type: 'delete',
          kv: { key: 'a', value: '', create: 0, mod: 2, version: 0 },
          prev: { key: 'a', value: '1', create: 1, mod: 1, version: 1 },
        },
      ],
    ],
  ]);
});

test('a format-1 snapshot (before revisions) is still read: keys at revision 1, version 1', () => {
  // Layout of format 1: "LKVS" 1 | applied | term | count | (key, value)* | sessions | crc32.
  const w = new ByteWriter();
  w.rawBytes(Buffer.from('LKVS', 'latin1'));
  w.u8(1);
  w.varint(7);
  w.varint(2);
  w.varint(2);
  w.str('a');
  w.str('x');
  w.str('b');
  w.str('y');
  w.varint(1); // one session with an old-style put result (tag 1, no revision)
  w.str('client');
  w.varint(3);
  w.varint(5);
  w.u8(1);
  w.u8(0);
  w.u32(crc32(w.view()));
  const m = KvStateMachine.restore(w.finish());
  assert.equal(m.appliedIndex, 7);
  assert.equal(m.revision, 1);
  assert.deepEqual(m.getKv('b'), { key: 'b', value: 'y', create: 1, mod: 1, version: 1 });
  // The cached answer of the session is still given to a retry (with revision 0: unknown).
  assert.deepEqual(feed(m, [{ op: 'put', key: 'a', value: 'retry', session: { clientId: 'client', seq: 3 } }]), [
    { op: 'put', revision: 0 },
  ]);
  assert.equal(m.get('a'), 'x');
  feed(m, [{ op: 'put', key: 'a', value: 'z' }]);
  assert.deepEqual(m.getKv('a'), { key: 'a', value: 'z', create: 1, mod: 2, version: 2 });
  // And written back in the current format, it reads the same.
  assert.deepEqual(KvStateMachine.restore(m.snapshot()).rangeKvs('', 10), m.rangeKvs('', 10));
});
