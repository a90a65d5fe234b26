// Minimal bounds-checked binary writer/reader, shared by the kv layer (commands, snapshots) and the
// peer wire format. A leaf: it imports nothing of the project, and every layer may use it.
//
// Integers are unsigned LEB128 varints limited to Number.MAX_SAFE_INTEGER; strings and byte strings
// are a varint length followed by the bytes. Every read checks bounds and throws the error class the
// caller supplies, so a malformed input can only surface as that caller's typed error.
import { Buffer } from 'node:buffer';

/** The longest varint for a value <= Number.MAX_SAFE_INTEGER (2^53 - 1 needs 53 bits → 8 bytes). */
const MAX_VARINT_BYTES = 8;

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes into a buffer that grows by doubling. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts over, keeping the capacity (for a reused scratch writer). */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /**
   * A copy of the written bytes in a fresh Buffer (small ones come from Node's shared pool, which
   * is cheap). Only for short-lived data: a pooled slice keeps its whole 8 KiB pool slab alive.
   */
  copyOut(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  private reserve(extraBytes: number): void {
    const need = this.pos + extraBytes;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    this.reserve(MAX_VARINT_BYTES + 1);
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  str(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len);
    this.reserve(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Bytes without a length prefix. */
  rawBytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written so far, without copying (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Overwrites 4 bytes at `at` (for length prefixes known only at the end). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32BE(v >>> 0, at);
  }

  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  get length(): number {
    return this.pos;
  }

  /** Exactly the written bytes: the buffer itself when sized exactly, else a copy (no spare capacity kept alive). */
  finish(): Uint8Array {
    if (this.pos === this.buf.length) return this.buf;
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }
}

export type ErrorFactory = (message: string) => Error;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

export class ByteReader {
  private pos = 0;
  private readonly buf: Buffer;

  constructor(
    bytes: Uint8Array,
    private readonly fail: ErrorFactory,
    /** true: reject invalid UTF-8 (untrusted input); false: faster, for CRC-checked input. */
    private readonly strictUtf8 = true,
  ) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.buf.length - this.pos) throw this.fail(`truncated ${what} at offset ${this.pos}`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  varint(what = 'varint'): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES + 1; i++) {
      const b = this.u8(what);
      result += (b & 127) * scale;
      if ((b & 128) === 0) {
        if (!Number.isSafeInteger(result)) throw this.fail(`${what} exceeds 2^53 at offset ${this.pos}`);
        return result;
      }
      scale *= 128;
    }
    throw this.fail(`${what} varint too long at offset ${this.pos}`);
  }

  f64(what = 'f64'): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view into the input (no copy): only for data copied onward at once. */
  view(len: number, what = 'bytes'): Uint8Array {
    this.need(len, what);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  str(what = 'string'): string {
    const len = this.varint(`${what} length`);
    this.need(len, what);
    const start = this.pos;
    this.pos += len;
    if (!this.strictUtf8) return this.buf.toString('utf8', start, start + len);
    try {
      return fatalUtf8.decode(this.buf.subarray(start, start + len));
    } catch {
      throw this.fail(`${what} is not valid UTF-8 at offset ${start}`);
    }
  }

  /** A copy, so the result does not keep the (possibly large) input alive. */
  bytes(what = 'bytes'): Uint8Array {
    const len = this.varint(`${what} length`);
    this.need(len, what);
    const out = new Uint8Array(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return out;
  }

  /**
   * A varint length and that many bytes as a view into the input (no copy): only over input the
   * caller owns and keeps as it is (a private copy, as the peer codec makes of a frame's entries).
   */
  bytesView(what = 'bytes'): Uint8Array {
    const len = this.varint(`${what} length`);
    this.need(len, what);
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, len);
    this.pos += len;
    return out;
  }

  expectEnd(what: string): void {
    if (this.pos !== this.buf.length) throw this.fail(`${this.buf.length - this.pos} trailing bytes after ${what}`);
  }
}
