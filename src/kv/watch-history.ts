// The watch hub's history of recent changes (watch-hub.ts), kept as bytes outside the V8 heap
// (issue 16). Held as objects — an event, its key-value and its previous key-value per change, two
// value strings — the history was the bulk of what every member's heap kept alive under writes
// (~16 MiB by its byte bound, ~55,000 revisions of 100-byte values): each change survived two
// scavenges and was promoted, and every full collection marked all of it again. In a micro-benchmark
// of applying puts that history made applying ~1.5× as expensive as with none (5.7 vs 3.8 µs of CPU per
// put). Here a revision is encoded once as it is published and decoded only when read back (a
// watcher catching up, a read at a past revision); the events of the live path die young.
//
// A record: varint event count, then per event
//   u8 flags (1: delete, 2: has prev, 4: prev key differs) | str key | str value | varint create,
//   mod, version | [str prev key, if 4] [str prev value, varint create, mod, version, if 2]
// where str is a u32 LE byte length and UTF-8. Records sit back to back in chunks; a record never
// spans two chunks, and a chunk is dropped once the history's front has passed all of it.
import { Buffer } from 'node:buffer';
import { cursor, putVarint, readVarint } from './page-codec.ts';
import type { ChangeEvent } from './state.ts';
import type { KeyValue } from './result.ts';

/** Chunk size: a larger record gets a chunk of its own size. */
const CHUNK_BYTES = 256 * 1024;
const TWO_32 = 2 ** 32;

const DELETE = 1;
const HAS_PREV = 2;
const PREV_KEY = 4;

/** A record's bytes at most: strings take at most 3 UTF-8 bytes per UTF-16 unit, varints 8. */
function maxRecordBytes(events: readonly ChangeEvent[]): number {
  let n = 8;
  for (const e of events) {
    n += 1 + 8 + 3 * (e.kv.key.length + e.kv.value.length) + 24;
    if (e.prev !== undefined) n += 12 + 3 * (e.prev.key.length + e.prev.value.length) + 24;
  }
  return n;
}

export class HistoryLog {
  /** Per held revision, oldest first from `head`: the revision, its byte count (as the hub counts), where its record is. */
  private revs: number[] = [];
  private sizes: number[] = [];
  /** chunk sequence number · 2^32 + offset in the chunk. */
  private locs: number[] = [];
  private head = 0;
  private chunks: Buffer[] = [];
  /** Sequence number of chunks[0]. */
  private firstChunk = 0;
  /** Write position in the last chunk. */
  private used = CHUNK_BYTES;

  /** Revisions held. */
  get length(): number {
    return this.revs.length - this.head;
  }

  /** The i-th held revision (0: the oldest). */
  revision(i: number): number {
    return this.revs[this.head + i] as number;
  }

  bytes(i: number): number {
    return this.sizes[this.head + i] as number;
  }

  push(revision: number, events: readonly ChangeEvent[], bytes: number): void {
    const max = maxRecordBytes(events);
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || this.used + max > chunk.length) {
      chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, max));
      this.chunks.push(chunk);
      this.used = 0;
    }
    const start = this.used;
    let p = putVarint(chunk, start, events.length);
    for (const e of events) {
      const prev = e.prev;
      const prevKey = prev !== undefined && prev.key !== e.kv.key;
      chunk[p++] = (e.type === 'delete' ? DELETE : 0) | (prev !== undefined ? HAS_PREV : 0) | (prevKey ? PREV_KEY : 0);
      p = putKv(chunk, p, e.kv, true);
      if (prev !== undefined) p = putKv(chunk, p, prev, prevKey);
    }
    this.used = p;
    this.revs.push(revision);
    this.sizes.push(bytes);
    this.locs.push((this.firstChunk + this.chunks.length - 1) * TWO_32 + start);
  }

  /** Forgets the oldest `n` revisions. */
  dropFront(n: number): void {
    this.head += n;
    if (this.head === this.revs.length) {
      this.clear();
      return;
    }
    // Chunks wholly before the oldest held record go.
    const firstNeeded = Math.floor((this.locs[this.head] as number) / TWO_32);
    if (firstNeeded > this.firstChunk) {
      this.chunks.splice(0, firstNeeded - this.firstChunk);
      this.firstChunk = firstNeeded;
    }
    // Drop the consumed front of the index now and then (amortized O(1) per revision).
    if (this.head > 1024 && this.head * 2 > this.revs.length) {
      this.revs = this.revs.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.locs = this.locs.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.revs = [];
    this.sizes = [];
    this.locs = [];
    this.head = 0;
    this.firstChunk += this.chunks.length;
    this.chunks = [];
    this.used = CHUNK_BYTES;
  }

  /**
   * The events of the i-th held revision, decoded (new objects); with `want`, only those whose key
   * it accepts (the others' values are not decoded).
   */
  events(i: number, want?: (key: string) => boolean): ChangeEvent[] {
    const loc = this.locs[this.head + i] as number;
    const chunk = this.chunks[Math.floor(loc / TWO_32) - this.firstChunk] as Buffer;
    const count = readVarint(chunk, loc % TWO_32);
    let p = cursor.end;
    const out: ChangeEvent[] = [];
    for (let k = 0; k < count; k++) {
      const flags = chunk[p++] as number;
      const key = readStr(chunk, p);
      p = cursor.end;
      if (want !== undefined && !want(key)) {
        p = skipKv(chunk, p, false);
        if ((flags & HAS_PREV) !== 0) p = skipKv(chunk, p, (flags & PREV_KEY) !== 0);
        continue;
      }
      const kv = readKv(chunk, p, key);
      p = cursor.end;
      const type = (flags & DELETE) !== 0 ? 'delete' : 'put';
      if ((flags & HAS_PREV) === 0) {
        out.push({ type, kv });
        continue;
      }
      const prev = readKv(chunk, p, (flags & PREV_KEY) !== 0 ? null : key);
      p = cursor.end;
      out.push({ type, kv, prev });
    }
    return out;
  }
}

function putStr(buf: Buffer, p: number, s: string): number {
  const n = buf.write(s, p + 4, 'utf8');
  buf.writeUInt32LE(n, p);
  return p + 4 + n;
}

function putKv(buf: Buffer, p: number, kv: KeyValue, withKey: boolean): number {
  if (withKey) p = putStr(buf, p, kv.key);
  p = putStr(buf, p, kv.value);
  p = putVarint(buf, p, kv.create);
  p = putVarint(buf, p, kv.mod);
  return putVarint(buf, p, kv.version);
}

function readStr(buf: Buffer, p: number): string {
  const n = buf.readUInt32LE(p);
  cursor.end = p + 4 + n;
  return buf.toString('utf8', p + 4, p + 4 + n);
}

/** A key-value at p (its key read there unless given); leaves the end in cursor.end. */
function readKv(buf: Buffer, p: number, key: string | null): KeyValue {
  let k = key;
  if (k === null) {
    k = readStr(buf, p);
    p = cursor.end;
  }
  const value = readStr(buf, p);
  const create = readVarint(buf, cursor.end);
  const mod = readVarint(buf, cursor.end);
  const version = readVarint(buf, cursor.end);
  return { key: k, value, create, mod, version };
}

/** Past a key-value at p (with its key when `withKey`); returns the end. */
function skipKv(buf: Buffer, p: number, withKey: boolean): number {
  if (withKey) p += 4 + buf.readUInt32LE(p);
  p += 4 + buf.readUInt32LE(p);
  readVarint(buf, p);
  readVarint(buf, cursor.end);
  readVarint(buf, cursor.end);
  return cursor.end;
}
