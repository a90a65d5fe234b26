import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from './crc32c.ts';

/** The textbook bitwise CRC32C, to check the sliced tables against. */
function reference(bytes: Uint8Array, start: number, end: number, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('crc32c of long inputs at any alignment matches the bitwise definition', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 1200 }),
      fc.nat(7),
      fc.nat(),
      fc.nat(),
      (data, shift, a, b) => {
        // A view at an odd offset of a larger buffer: the word loop must align itself.
        const backing = new Uint8Array(data.length + shift);
        backing.set(data, shift);
        const view = backing.subarray(shift);
        const s = data.length === 0 ? 0 : a % data.length;
        const e = s + (data.length === s ? 0 : b % (data.length - s + 1));
        assert.equal(crc32c(view, s, e), reference(data, s, e));
        // With a caller's word view over the whole backing buffer (the WAL's pending records).
        const words = new Int32Array(backing.buffer, 0, backing.length >> 2);
        assert.equal(crc32c(view, s, e, 0, words), reference(data, s, e));
        // Continuing a running checksum gives the checksum of the whole.
        assert.equal(crc32c(view, e, data.length, crc32c(view, s, e)), reference(data, s, data.length));
      },
    ),
    { numRuns: 300 },
  );
});

test('crc32c of RFC 3720 B.4 vectors, repeated past the word loop threshold', () => {
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const long = Uint8Array.from({ length: 4096 + 5 }, (_, i) => (i * 31) & 0xff);
  assert.equal(crc32c(long), reference(long, 0, long.length));
});
