// Payload encodings of the WAL's record types (framing is in frame.ts). Integers are u64 LE holding
// JS safe integers; strings are u16-length-prefixed UTF-8.
import type { Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.ts';

export const RecordType = {
  /** First record of every segment: its sequence number and the log's last index/term before it. */
  SegmentStart: 1,
  HardState: 2,
  Entry: 3,
  /** Entries with index >= fromIndex are removed (an append that replaces a suffix of the log). */
  Truncate: 4,
  /** A snapshot up to (index, term) was saved; the log prefix up to index is replaced by it. */
  Snapshot: 5,
  /**
   * Last record of a segment that is not the last one: the log goes on in segment `nextSeq`, which
   * was created whole before this was written (segment_seal.ts). Since session 11.
   */
  Seal: 6,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export interface SegmentStart {
  readonly seq: number;
  readonly lastIndexBefore: number;
  readonly lastTermBefore: number;
  /**
   * The size the segment file was created with (zero-extended and fsynced with this record before
   * the file got its name): a shorter file was cut, not torn (docs/storage.md "Cuts and torn
   * writes"). 0 in a segment written before session 10, whose record has no such field.
   */
  readonly reservedBytes: number;
}

const NULL_STRING = 0xffff;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.len + n, this.buf.length * 2));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  u8(v: number): this {
    this.room(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.len, v, true);
    this.len += 2;
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`records: ${v} is not a non-negative safe integer`);
    this.room(8);
    this.view.setBigUint64(this.len, BigInt(v), true);
    this.len += 8;
    return this;
  }
  str(s: string | null): this {
    if (s === null) return this.u16(NULL_STRING);
    const b = enc.encode(s);
    if (b.length >= NULL_STRING) throw new Error('records: string too long');
    this.u16(b.length);
    return this.bytes(b);
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Thrown on a payload whose checksum passed but whose contents do not parse (a writer bug). */
export class PayloadError extends Error {}

class Reader {
  private off = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private need(n: number): void {
    if (this.off + n > this.b.length) throw new PayloadError('payload too short');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.off++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.off, true);
    this.off += 2;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.off, true);
    this.off += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PayloadError('integer out of range');
    return Number(v);
  }
  str(): string | null {
    const n = this.u16();
    if (n === NULL_STRING) return null;
    this.need(n);
    const s = dec.decode(this.b.subarray(this.off, this.off + n));
    this.off += n;
    return s;
  }
  rest(): Uint8Array {
    const r = this.b.slice(this.off);
    this.off = this.b.length;
    return r;
  }
  remaining(): number {
    return this.b.length - this.off;
  }
  end(): void {
    if (this.off !== this.b.length) throw new PayloadError('trailing bytes in payload');
  }
}

/** reservedBytes 0 writes the record as before session 10 (three fields; tests build old folders so). */
export function encodeSegmentStart(s: SegmentStart): Uint8Array {
  const w = new Writer().u64(s.seq).u64(s.lastIndexBefore).u64(s.lastTermBefore);
  return (s.reservedBytes > 0 ? w.u64(s.reservedBytes) : w).done();
}
export function decodeSegmentStart(p: Uint8Array): SegmentStart {
  const r = new Reader(p);
  const seq = r.u64();
  const lastIndexBefore = r.u64();
  const lastTermBefore = r.u64();
  const reservedBytes = r.remaining() === 0 ? 0 : r.u64();
  r.end();
  return { seq, lastIndexBefore, lastTermBefore, reservedBytes };
}

/** A seal's payload: the sequence number of the segment the log goes on in. */
export function encodeSeal(nextSeq: number): Uint8Array {
  return new Writer().u64(nextSeq).done();
}
export function decodeSeal(p: Uint8Array): number {
  const r = new Reader(p);
  const v = r.u64();
  r.end();
  return v;
}

export function encodeHardState(h: HardState): Uint8Array {
  return new Writer().u64(h.term).u64(h.commit).str(h.votedFor).done();
}
export function decodeHardState(p: Uint8Array): HardState {
  const r = new Reader(p);
  const h = { term: r.u64(), commit: r.u64(), votedFor: r.str() };
  r.end();
  return h;
}

export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(entryPayloadBytes(e));
  writeEntryPayload(out, 0, e);
  return out;
}

/** An entry's payload: u64 index, u64 term, u8 type, then its data. */
export function entryPayloadBytes(e: Entry): number {
  return 17 + e.data.length;
}

/** Writes an entry's payload (encodeEntry's bytes) at out[at, at + entryPayloadBytes(e)). */
export function writeEntryPayload(out: Uint8Array, at: number, e: Entry): void {
  putU64(out, at, e.index);
  putU64(out, at + 8, e.term);
  out[at + 16] = e.type;
  out.set(e.data, at + 17);
}

const TWO_32 = 2 ** 32;

/** u64 little-endian, as Writer.u64 writes it, without a BigInt. */
function putU64(out: Uint8Array, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`records: ${v} is not a non-negative safe integer`);
  const lo = v % TWO_32;
  const hi = (v - lo) / TWO_32;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}
export function decodeEntry(p: Uint8Array): Entry {
  const r = new Reader(p);
  const index = r.u64();
  const term = r.u64();
  const type = r.u8();
  if (type !== 0 && type !== 1 && type !== 2) throw new PayloadError(`unknown entry type ${type}`);
  return { index, term, type: type as EntryType, data: r.rest() };
}

export function encodeTruncate(fromIndex: number): Uint8Array {
  return new Writer().u64(fromIndex).done();
}
export function decodeTruncate(p: Uint8Array): number {
  const r = new Reader(p);
  const v = r.u64();
  r.end();
  return v;
}

// Voters, then (since membership changes) learners and removed ids; a record that ends after the
// voters is one written before them (no learners, nothing removed).
export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const w = new Writer().u64(m.index).u64(m.term);
  for (const list of [m.confState.voters, m.confState.learners, m.confState.removed ?? []]) {
    w.u16(list.length);
    for (const id of list) w.str(id);
  }
  return w.done();
}
export function decodeSnapshotMeta(p: Uint8Array): SnapshotMeta {
  const r = new Reader(p);
  const index = r.u64();
  const term = r.u64();
  const list = (): string[] => {
    const n = r.u16();
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = r.str();
      if (id === null) throw new PayloadError('null member id');
      ids.push(id);
    }
    return ids;
  };
  const voters = list();
  const old = r.remaining() === 0;
  const learners = old ? [] : list();
  const removed = old ? [] : list();
  r.end();
  return { index, term, confState: { voters, learners, removed } };
}
