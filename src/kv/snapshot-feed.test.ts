// A snapshot decoded from pieces (issue 16: a received snapshot restored from its spool file) gives
// the state decodeSnapshot gives from the whole buffer, and refuses what it refuses.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { KvStateMachine, SnapshotDecodeError } from './machine.ts';
import { DEFAULT_SESSION_CONFIG } from './sessions.ts';
import { SnapshotFeed } from './snapshot-feed.ts';
import { put } from './test-helpers.ts';

/** A state restored from `bytes` read a piece at a time. */
async function viaPieces(bytes: Uint8Array): Promise<KvStateMachine> {
  const m = new KvStateMachine();
  let reads = 0;
  await m.restoreFromPieces(bytes.length, async (offset, n) => {
    reads++;
    assert.ok(n <= 2 << 20, `a read of ${n} bytes`);
    return bytes.slice(offset, offset + n);
  });
  assert.ok(reads >= Math.ceil(bytes.length / (2 << 20)));
  return m;
}

test('restoreFromPieces: the same state as restore(), for small and large states', async () => {
  const empty = new KvStateMachine().snapshot();
  assert.deepEqual((await viaPieces(empty)).snapshot(), empty);
  const m = new KvStateMachine();
  for (let i = 0; i < 60_000; i++) put(m, `k${String(i).padStart(6, '0')}`, 'v'.repeat(i % 200));
  // A value larger than a piece: its entry waits across reads.
  put(m, 'zz-big', 'x'.repeat(5 << 20));
  const bytes = m.snapshot();
  assert.ok(bytes.length > 8 << 20);
  const r = await viaPieces(bytes);
  assert.deepEqual(r.snapshot(), bytes);
  assert.equal(r.size, m.size);
  assert.equal(r.get('k000007'), 'v'.repeat(7));
  assert.equal(r.approxBytes, KvStateMachine.restore(bytes).approxBytes);
});

test('the feed decodes pieces cut anywhere, and refuses what restore() refuses', () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 3000; i++) put(m, `key-${i}`, `value ${i}`);
  const bytes = Buffer.from(m.snapshot());
  const decodeIn = (b: Uint8Array, size: number): void => {
    const f = new SnapshotFeed(DEFAULT_SESSION_CONFIG);
    for (let at = 0; at < b.length; at += size) f.feed(b.subarray(at, at + size));
    f.finish();
  };
  for (const size of [1, 3, 4, 5, 77, 4096, bytes.length]) decodeIn(bytes, size);
  // A flipped bit in the key section: the CRC, at the end.
  const flipped = Buffer.from(bytes);
  flipped[bytes.length >> 1]! ^= 0x01;
  assert.throws(() => decodeIn(flipped, 1000), SnapshotDecodeError);
  // Cut short.
  assert.throws(() => decodeIn(bytes.subarray(0, bytes.length - 100), 1000), SnapshotDecodeError);
  assert.throws(() => decodeIn(bytes.subarray(0, 3), 1), /too short/);
  // Keys out of order with a valid CRC, the swap straddling a piece boundary.
  const two = new KvStateMachine();
  put(two, 'a', '1');
  put(two, 'b', '2');
  const snap = Buffer.from(two.snapshot());
  const ia = snap.indexOf(Buffer.from([1, 0x61, 1, 0x31])) + 1;
  const ib = snap.indexOf(Buffer.from([1, 0x62, 1, 0x32])) + 1;
  snap[ia] = 0x62;
  snap[ib] = 0x61;
  snap.writeUInt32BE(crc32(snap.subarray(0, snap.length - 4)), snap.length - 4);
  for (const size of [1, ib - 1, ib, snap.length]) assert.throws(() => decodeIn(snap, size), /not strictly ascending/);
});

test('the feed keeps no view of a piece: one buffer refilled for every piece gives the same state (issue 16)', async () => {
  const m = new KvStateMachine();
  for (let i = 0; i < 40_000; i++) put(m, `key-${i}`, 'v'.repeat(i % 300));
  const bytes = m.snapshot();
  assert.ok(bytes.length > 4 << 20);
  // Through restoreFromPieces (2 MiB pieces), every read into the same buffer: byte for byte.
  const buf = new Uint8Array(2 << 20);
  const r = new KvStateMachine();
  await r.restoreFromPieces(bytes.length, async (offset, n) => {
    buf.fill(0xa5); // what a reused buffer does to a view kept of the last piece
    buf.set(bytes.subarray(offset, offset + n));
    return buf.subarray(0, n);
  });
  assert.deepEqual(r.snapshot(), bytes);
  // Pieces cut anywhere (a smaller state), the buffer scribbled over after each is fed: every key
  // as a whole feed gives.
  const small = new KvStateMachine();
  for (let i = 0; i < 3000; i++) put(small, `key-${i}`, 'v'.repeat(i % 300));
  put(small, 'zz', 'x'.repeat(9000));
  const sb = small.snapshot();
  const whole = new SnapshotFeed(DEFAULT_SESSION_CONFIG);
  whole.feed(sb.slice());
  const expected = [...whole.finish().store.from('')];
  assert.equal(expected.length, small.size);
  for (const size of [1, 5, 77, 4096]) {
    const f = new SnapshotFeed(DEFAULT_SESSION_CONFIG);
    const piece = new Uint8Array(size);
    for (let at = 0; at < sb.length; at += size) {
      const p = piece.subarray(0, Math.min(size, sb.length - at));
      p.set(sb.subarray(at, at + p.length));
      f.feed(p);
      piece.fill(0xa5);
    }
    assert.deepEqual([...f.finish().store.from('')], expected, `pieces of ${size}`);
  }
});
