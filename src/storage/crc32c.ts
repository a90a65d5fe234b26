// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), written by hand so storage has no native
// dependency. Detects every single-bit error and every burst up to 32 bits in a record.
//
// Slicing-by-8 (eight 256-entry tables, eight bytes per step read as two 32-bit words): a restart
// checks the whole WAL and the snapshot file (~200 MiB with a million keys), and the one-table,
// byte-at-a-time loop ran at ~50 MB/s here — seconds of a restart (docs/benchmarks.md, "Scale and
// memory"); this runs ~15× faster. Same checksum, so nothing on disk changes.
import { endianness } from 'node:os';

const POLY = 0x82f63b78;

/** TABLE[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLE: Int32Array = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** The word loop reads bytes in little-endian order; elsewhere only the byte loop runs. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * CRC32C of bytes[start, end). Pass `crc` to continue a running checksum. `words`: an Int32Array
 * over the whole of bytes.buffer from its start, reused by a caller that checksums many small
 * pieces of one buffer (the WAL's records) instead of a view made per call.
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0, words?: Int32Array): number {
  const t = TABLE;
  let c = ~crc | 0;
  let i = start;
  if (LITTLE_ENDIAN && end - i >= 64) {
    // Bytes one at a time up to a 4-byte boundary (an Int32Array view needs one), then 8 per step.
    while (((bytes.byteOffset + i) & 3) !== 0) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
    const n = (end - i) >> 3;
    const from = (bytes.byteOffset + i) >> 2;
    const w =
      words !== undefined && words.buffer === bytes.buffer && words.byteOffset === 0
        ? words
        : new Int32Array(bytes.buffer, bytes.byteOffset + i, n * 2);
    const j0 = w === words ? from : 0;
    for (let j = j0; j < j0 + n * 2; j += 2) {
      const lo = w[j]! ^ c;
      const hi = w[j + 1]!;
      c =
        t[1792 + (lo & 0xff)]! ^
        t[1536 + ((lo >>> 8) & 0xff)]! ^
        t[1280 + ((lo >>> 16) & 0xff)]! ^
        t[1024 + (lo >>> 24)]! ^
        t[768 + (hi & 0xff)]! ^
        t[512 + ((hi >>> 8) & 0xff)]! ^
        t[256 + ((hi >>> 16) & 0xff)]! ^
        t[hi >>> 24]!;
    }
    i += n * 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
