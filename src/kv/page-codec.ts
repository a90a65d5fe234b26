// Varints inside store pages (store.ts) and the snapshot's key section (snapshot.ts): unsigned
// LEB128, as ByteWriter/ByteReader in src/util/bytes.ts write them, read without allocating —
// a lookup decodes a few dozen of them, so they return the value and leave the end in `cursor.end`
// (a property, not an exported `let`: a live binding may be compiled to a getter call).
import { varintSize } from '../util/bytes.ts';

/** Where the last readVarint stopped. */
export const cursor = { end: 0 };

/** Reads a varint at `p` of trusted bytes (pages, or a snapshot section whose bounds are checked). */
export function readVarint(buf: Uint8Array, p: number): number {
  let b = buf[p++] as number;
  if (b < 128) {
    cursor.end = p;
    return b;
  }
  let result = b & 127;
  let scale = 128;
  // At most 8 bytes (2^53); the bound keeps a reader of damaged bytes from running on.
  for (let i = 1; i < 8; i++) {
    b = (buf[p++] as number | undefined) ?? 0;
    result += (b & 127) * scale;
    if (b < 128) break;
    scale *= 128;
  }
  cursor.end = p;
  return result;
}

/** Writes `n` at `p`; returns the end. */
export function putVarint(buf: Uint8Array, p: number, n: number): number {
  while (n >= 128) {
    buf[p++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[p++] = n;
  return p;
}

/** Bytes of one entry: key and value lengths, bytes, and the three revisions. */
export function pageEntrySize(
  keyBytes: number,
  valueBytes: number,
  create: number,
  mod: number,
  version: number,
): number {
  return (
    varintSize(keyBytes) +
    keyBytes +
    varintSize(valueBytes) +
    valueBytes +
    varintSize(create) +
    varintSize(mod) +
    varintSize(version)
  );
}

/** Byte order of a[as, ae) and b[bs, be). */
export function compareBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const la = ae - as;
  const lb = be - bs;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const d = (a[as + i] as number) - (b[bs + i] as number);
    if (d !== 0) return d;
  }
  return la - lb;
}
