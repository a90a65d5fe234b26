// The snapshot format's versions (issue 16): version 5 carries the keys as one section in byte order
// (the store's pages); version 4 (keys one by one, JavaScript string order) is still read.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { ByteWriter } from '../util/bytes.ts';
import { KvStateMachine, SnapshotDecodeError } from './machine.ts';
import { MembershipTable } from './members.ts';
import { put } from './test-helpers.ts';

test('a format-4 snapshot (keys in JavaScript string order) is read, and its keys served in byte order', () => {
  // JavaScript order: 'a' < '\u{1F600}' (a surrogate pair, 0xD83D...) < '\uE000'; byte order puts U+E000 first.
  const keys = ['a', '\u{1F600}', '\uE000'];
  const w = new ByteWriter();
  w.rawBytes(Buffer.from('LKVS', 'latin1'));
  w.u8(4);
  w.varint(9); // applied
  w.varint(2); // term
  w.varint(3); // revision
  w.varint(0); // compact revision
  w.varint(keys.length);
  keys.forEach((k, i) => {
    w.str(k);
    w.str(`v${i}`);
    w.varint(i + 1);
    w.varint(i + 1);
    w.varint(1);
  });
  w.varint(0); // no sessions
  w.bytes(new MembershipTable().encode());
  w.varint(0); // no TTL grants
  w.u32(crc32(w.view()));
  const m = KvStateMachine.restore(w.finish());
  assert.equal(m.appliedIndex, 9);
  assert.deepEqual(
    m.range('', 10).map((kv) => kv.key),
    ['a', '\uE000', '\u{1F600}'],
  );
  assert.deepEqual(m.getKv('\u{1F600}'), { key: '\u{1F600}', value: 'v1', create: 2, mod: 2, version: 1 });
  // Written again, it is the current format (6) and reads the same.
  const again = m.snapshot();
  assert.equal(again[4], 6);
  assert.deepEqual(KvStateMachine.restore(again).rangeKvs('', 10), m.rangeKvs('', 10));
});

test('format 5: keys out of byte order are refused, even with a valid CRC', () => {
  const m = new KvStateMachine();
  put(m, 'a', '1');
  put(m, 'b', '2');
  const snap = Buffer.from(m.snapshot());
  // Swap the two keys' single bytes and fix the CRC: the section is then 'b' before 'a'.
  // Each entry: key length, key, value length, value, create, mod, version.
  const ia = snap.indexOf(Buffer.from([1, 0x61, 1, 0x31])) + 1;
  const ib = snap.indexOf(Buffer.from([1, 0x62, 1, 0x32])) + 1;
  assert.ok(ia > 0 && ib > ia);
  snap[ia] = 0x62;
  snap[ib] = 0x61;
  snap.writeUInt32BE(crc32(snap.subarray(0, snap.length - 4)), snap.length - 4);
  assert.throws(() => KvStateMachine.restore(snap), SnapshotDecodeError);
  assert.throws(() => KvStateMachine.restore(snap), /not strictly ascending/);
});

test('format 5: a large state round-trips through many pages, taken while writes go on', async () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 5000; i++) put(m, `k${String(i).padStart(5, '0')}`, 'v'.repeat(i % 300));
  const before = m.snapshot();
  const pending = m.snapshotAsync();
  for (let i = 0; i < 5000; i += 7) put(m, `k${String(i).padStart(5, '0')}`, 'changed');
  const taken = await pending;
  assert.deepEqual(taken, before);
  const r = KvStateMachine.restore(taken);
  assert.equal(r.size, 5000);
  assert.equal(r.get('k00007'), 'v'.repeat(7));
  assert.equal(m.get('k00007'), 'changed');
  assert.equal(r.approxBytes, KvStateMachine.restore(before).approxBytes);
});
