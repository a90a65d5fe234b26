// Property tests for the framing (issue 4): any byte string round-trips; any truncation inside a
// record is seen as a torn tail; any single flipped bit is detected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from './crc32c.ts';
import { encodeFrame, HEADER_BYTES, scanFrames, sealFrame } from './frame.ts';
import { decodeEntry, encodeEntry, entryPayloadBytes, writeEntryPayload } from './records.ts';

const payloads = fc.array(fc.uint8Array({ maxLength: 700 }), { minLength: 1, maxLength: 6 });

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

test('crc32c matches the published check value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
});

test('any byte strings round-trip through frames', () => {
  fc.assert(
    fc.property(payloads, fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), (ps, types) => {
      const buf = concat(ps.map((p, i) => encodeFrame(types[i]!, p)));
      const r = scanFrames(buf);
      assert.deepEqual(r.end, { kind: 'clean' });
      assert.equal(r.frames.length, ps.length);
      r.frames.forEach((f, i) => {
        assert.equal(f.type, types[i]);
        assert.deepEqual(f.payload, ps[i]);
      });
    }),
    { numRuns: 300 },
  );
});

test('any truncation inside the last record is a torn tail at that record', () => {
  fc.assert(
    fc.property(payloads, fc.nat(), (ps, cutSeed) => {
      const frames = ps.map((p) => encodeFrame(3, p));
      const buf = concat(frames);
      const lastStart = buf.length - frames[frames.length - 1]!.length;
      const cut = lastStart + 1 + (cutSeed % (buf.length - lastStart - 1)); // strictly inside the record
      const r = scanFrames(buf.subarray(0, cut));
      assert.equal(r.end.kind, 'torn');
      assert.equal((r.end as { offset: number }).offset, lastStart);
      assert.equal(r.frames.length, ps.length - 1);
    }),
    { numRuns: 300 },
  );
});

test('any single flipped bit is detected (corrupt, or torn only within the last record)', () => {
  fc.assert(
    fc.property(payloads, fc.nat(), (ps, bitSeed) => {
      const frames = ps.map((p) => encodeFrame(3, p));
      const buf = concat(frames);
      const bit = bitSeed % (buf.length * 8);
      buf[bit >> 3] = buf[bit >> 3]! ^ (1 << (bit & 7));
      const r = scanFrames(buf);
      assert.notEqual(r.end.kind, 'clean');
      // The damaged record is the one reported; every record before it is intact.
      let start = 0;
      for (const f of frames) {
        if (bit >> 3 < start + f.length) break;
        start += f.length;
      }
      assert.equal((r.end as { offset: number }).offset, start);
      const lastStart = buf.length - frames[frames.length - 1]!.length;
      if (start < lastStart) assert.equal(r.end.kind, 'corrupt');
    }),
    { numRuns: 500 },
  );
});

test('a flipped bit in a length field is corrupt, not torn (header checksum)', () => {
  const buf = concat([encodeFrame(3, new Uint8Array(10).fill(7)), encodeFrame(3, new Uint8Array(10).fill(8))]);
  buf[2] = buf[2]! ^ 0x10; // length of the first record now runs far past the end of the file
  const r = scanFrames(buf);
  assert.deepEqual(r.end, { kind: 'corrupt', offset: 0, why: 'record header checksum mismatch' });
});

test('a zero-filled tail (size grew, data never written) is torn', () => {
  const good = encodeFrame(3, new Uint8Array(600).fill(9));
  const buf = new Uint8Array(good.length + 40);
  buf.set(good);
  assert.equal(scanFrames(buf).end.kind, 'torn');
  const partly = good.slice();
  partly.fill(0, 512); // last record's payload from a sector boundary on never reached the disk
  assert.deepEqual(scanFrames(partly).end, {
    kind: 'torn',
    offset: 0,
    why: 'last record ends in unwritten (zero) sectors',
  });
  assert.ok(HEADER_BYTES < 512);
});

test('a frame sealed in place, at any offset of a larger buffer, is the frame encodeFrame makes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(40), fc.integer({ min: 0, max: 255 }), (p, at, type) => {
      const out = new Uint8Array(Math.ceil((at + HEADER_BYTES + p.length + 5) / 8) * 8).fill(0xa5);
      out.set(p, at + HEADER_BYTES);
      sealFrame(out, at, type, p.length, new Int32Array(out.buffer));
      assert.deepEqual(out.subarray(at, at + HEADER_BYTES + p.length), encodeFrame(type, p));
    }),
    { numRuns: 200 },
  );
});

test('an entry payload written in place holds indexes and terms up to 2^53 - 1 exactly', () => {
  for (const n of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    const e = { index: n, term: Math.floor(n / 3), type: 2 as const, data: Uint8Array.of(1, 2, 3) };
    const out = new Uint8Array(entryPayloadBytes(e) + 3);
    writeEntryPayload(out, 3, e);
    assert.deepEqual(decodeEntry(out.subarray(3)), e);
    assert.deepEqual(encodeEntry(e), out.subarray(3));
    // The bytes a BigInt writer gives (the encoding before it was written by hand).
    const view = new DataView(out.buffer, 3);
    assert.equal(view.getBigUint64(0, true), BigInt(n));
    assert.equal(view.getBigUint64(8, true), BigInt(e.term));
  }
  assert.throws(() => encodeEntry({ index: -1, term: 1, type: 0, data: new Uint8Array(0) }), /safe integer/);
});
