import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { crc32 as zlibCrc } from 'node:zlib';
import fc from 'fast-check';
import type { Entry, Message } from '../raft/types.ts';
import { DecodeError, decodeFrameBody, encodeFrame, encodeMessage, type Frame } from './codec.ts';
import { FrameDecoder } from './frame-decoder.ts';

const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
const n = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const small = fc.integer({ min: 0, max: 1000 });
const dur = fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true });
const entry: fc.Arbitrary<Entry> = fc
  .tuple(
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    n,
    fc.constantFrom(0 as const, 1 as const),
    fc.uint8Array({ maxLength: 40 }),
  )
  .map(([index, term, type, data]) => ({ index, term, type, data }));
const base = { from: id, to: id, term: n };

export const arbMessage: fc.Arbitrary<Message> = fc
  .oneof(
    fc.record({
      type: fc.constant('vote' as const),
      ...base,
      preVote: fc.boolean(),
      lastLogIndex: n,
      lastLogTerm: n,
      transfer: fc.boolean(),
    }),
    fc.record({
      type: fc.constant('voteResp' as const),
      ...base,
      preVote: fc.boolean(),
      granted: fc.boolean(),
      oldLeaseRemainingMs: dur,
    }),
    fc.record({
      type: fc.constant('app' as const),
      ...base,
      prevLogIndex: n,
      prevLogTerm: n,
      entries: fc.array(entry, { maxLength: 5 }),
      commit: n,
      leaseDurationMs: dur,
      round: n,
    }),
    fc.record({
      type: fc.constant('appResp' as const),
      ...base,
      success: fc.boolean(),
      matchIndex: n,
      rejectHint: fc.option(fc.record({ index: n, term: n }), { nil: null }),
      round: n,
    }),
    fc.record({
      type: fc.constant('snap' as const),
      ...base,
      snapshot: fc.record({
        index: n,
        term: n,
        confState: fc.record({
          voters: fc.array(id, { minLength: 1, maxLength: 5 }),
          learners: fc.array(id, { maxLength: 3 }),
          removed: fc.array(id, { maxLength: 3 }),
        }),
      }),
      leaseDurationMs: dur,
      round: small,
    }),
    fc.record({ type: fc.constant('timeoutNow' as const), ...base }),
  )
  .map((m) => structuredClone(m) as Message); // plain prototypes, as the decoder builds

function roundTrip(f: Frame): Frame {
  const bytes = encodeFrame(f);
  return decodeFrameBody(bytes.subarray(4));
}

test('every raft message type round-trips (property)', () => {
  fc.assert(
    fc.property(arbMessage, (msg) => {
      const back = roundTrip({ kind: 'msg', msg });
      assert.equal(back.kind, 'msg');
      assert.deepEqual(back.kind === 'msg' ? back.msg : null, msg);
    }),
    { numRuns: 1000 },
  );
});

test("an AppendRequest's entries share one copy of their bytes, not the network buffer (issue 16)", () => {
  const entries: Entry[] = [1, 2, 3].map((i) => ({ index: i, term: 1, type: 0, data: Uint8Array.from([i, i, i]) }));
  const msg: Message = {
    type: 'app',
    from: 'a',
    to: 'b',
    term: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    commit: 0,
    leaseDurationMs: 900,
    round: 1,
    entries,
  };
  // The frame inside a larger read, as a socket delivers it.
  const frame = encodeFrame({ kind: 'msg', msg });
  const chunk = new Uint8Array(frame.length + 1000);
  chunk.set(frame, 100);
  const back = decodeFrameBody(chunk.subarray(104, 100 + frame.length));
  assert.ok(back.kind === 'msg' && back.msg.type === 'app');
  const got = back.msg.entries;
  assert.deepEqual(
    got.map((e) => [...e.data]),
    entries.map((e) => [...e.data]),
  );
  const buf = got[0]?.data.buffer;
  // One buffer for all of them (one allocation per frame, one copy in a structured clone to the WAL
  // worker), and not the network buffer (an entry in the log must not pin the read).
  assert.ok(got.every((e) => e.data.buffer === buf));
  assert.notEqual(buf, chunk.buffer);
  assert.ok((buf?.byteLength ?? 0) < frame.length, `shared copy of ${buf?.byteLength} bytes holds the entries only`);
});

test('handshake and snapshot frames round-trip', () => {
  const tid = { index: 10, term: 2, totalBytes: 100, crc32: 0xdeadbeef };
  const snapMsg: Message = {
    type: 'snap',
    from: 'a',
    to: 'b',
    term: 2,
    snapshot: { index: 10, term: 2, confState: { voters: ['a', 'b'], learners: [], removed: [] } },
    leaseDurationMs: 900,
    round: 3,
  };
  const frames: Frame[] = [
    {
      kind: 'hello',
      version: 3,
      minVersion: 2,
      software: '0.2.0',
      clusterId: 'c-1',
      from: 'n1',
      to: 'n2',
      clusterUid: 'ab12',
      incarnation: 'cd34',
    },
    {
      kind: 'hello',
      version: 2,
      minVersion: 2,
      software: '',
      clusterId: 'c',
      from: 'n1',
      to: 'n2',
      clusterUid: '',
      incarnation: '',
    },
    { kind: 'hello-ok', version: 3, minVersion: 2, maxVersion: 3, software: '0.2.0' },
    { kind: 'hello-ok', version: 2, minVersion: 2, maxVersion: 2, software: '' },
    { kind: 'refuse', reason: 'cluster id mismatch', code: 'identity' },
    { kind: 'snap-offer', id: tid, msg: snapMsg },
    { kind: 'snap-ack', id: tid, offset: 50, rejected: false },
    { kind: 'snap-ack', id: tid, offset: 0, rejected: true },
  ];
  for (const f of frames) assert.deepEqual(roundTrip(f), structuredClone(f));
  const chunk = roundTrip({ kind: 'snap-chunk', id: tid, offset: 90, data: Uint8Array.from([1, 2, 3]) });
  assert.ok(chunk.kind === 'snap-chunk');
  assert.deepEqual([...chunk.data], [1, 2, 3]);
  assert.throws(
    () => roundTrip({ kind: 'snap-chunk', id: tid, offset: 99, data: Uint8Array.from([1, 2]) }),
    DecodeError,
  );
});

test('arbitrary bytes never throw anything but DecodeError (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeFrameBody(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('bit flips and truncations of valid frames are caught (CRC, length)', () => {
  fc.assert(
    fc.property(arbMessage, fc.nat(), fc.integer({ min: 0, max: 7 }), (msg, pos, bit) => {
      const body = encodeMessage(msg).subarray(4);
      const flipped = Uint8Array.from(body);
      const i = pos % flipped.length;
      flipped[i] = (flipped[i] as number) ^ (1 << bit);
      assert.throws(() => decodeFrameBody(flipped), DecodeError);
      assert.throws(() => decodeFrameBody(body.subarray(0, pos % body.length)), DecodeError);
    }),
    { numRuns: 500 },
  );
});

test('non-finite or negative durations are rejected', () => {
  const bad: Message = {
    type: 'voteResp',
    from: 'a',
    to: 'b',
    term: 1,
    preVote: false,
    granted: true,
    oldLeaseRemainingMs: Number.NaN,
  };
  assert.throws(() => roundTrip({ kind: 'msg', msg: bad }), DecodeError);
  assert.throws(() => roundTrip({ kind: 'msg', msg: { ...bad, oldLeaseRemainingMs: -1 } }), DecodeError);
});

test('FrameDecoder reassembles frames split at arbitrary points (property)', () => {
  fc.assert(
    fc.property(
      fc.array(arbMessage, { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }),
      (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => encodeMessage(m)));
        const dec = new FrameDecoder(1 << 20);
        const got: Message[] = [];
        let pos = 0;
        for (let i = 0; pos < stream.length; i++) {
          const len = cuts[i % cuts.length] as number;
          dec.push(stream.subarray(pos, pos + len), (f) => {
            if (f.kind === 'msg') got.push(f.msg);
          });
          pos += len;
        }
        assert.deepEqual(got, msgs);
        assert.equal(dec.bufferedBytes, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test('FrameDecoder rejects a length over maxFrameBytes before buffering the body', () => {
  const dec = new FrameDecoder(4096);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1 << 30);
  assert.throws(
    () => dec.push(header, () => {}),
    (e: unknown) => e instanceof DecodeError && /exceeds maxFrameBytes/.test(e.message),
  );
  const tiny = Buffer.alloc(4);
  tiny.writeUInt32BE(2);
  assert.throws(() => new FrameDecoder(4096).push(tiny, () => {}), DecodeError);
  // A real frame just over the limit is refused too.
  const big = encodeFrame({ kind: 'refuse', reason: 'x'.repeat(5000), code: '' });
  assert.throws(() => new FrameDecoder(4096).push(big, () => {}), DecodeError);
});

test('a frame from a future protocol version is refused with a readable reason', () => {
  const ok = { kind: 'hello-ok', version: 2, minVersion: 2, maxVersion: 2, software: '' } as const;
  const body = Uint8Array.from(encodeFrame(ok).subarray(4));
  body[0] = 9;
  // Recompute the CRC so that only the version is wrong.
  const fixed = Buffer.from(body);
  fixed.writeUInt32BE(zlibCrc(fixed.subarray(0, fixed.length - 4)), fixed.length - 4);
  assert.throws(() => decodeFrameBody(fixed), /unsupported protocol version 9/);
});
