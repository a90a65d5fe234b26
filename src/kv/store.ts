// The key-value records of the state machine, kept compactly (issue 16): keys, values and revisions
// live as bytes in pages (Buffers, outside the V8 heap), sorted by key, with no JavaScript object
// per key. A million keys of 100-byte values take ~1.2× their raw size here, where a
// Map<string, object> took ~2.3× on the heap (plus the GC's headroom on top of that).
//
// A page holds whole entries back to back, each encoded as
//   varint keyLength | key (UTF-8) | varint valueLength | value (UTF-8) | varint create | varint mod | varint version
// which is also the snapshot's encoding of a key (snapshot.ts), so a snapshot is the pages' bytes
// concatenated and a restore cuts them back into pages without decoding a single string.
//
// Order is UTF-8 byte order (docs/api.md: Range is in byte order). Pages are kept in order and each
// page's entries are sorted; `seps[i]` is a copy of a key <= every key of page i and > every key
// of page i-1 (the first key it had when made), so a lookup is a binary search over the pages and
// then one within the page. A page splits past PAGE_MAX_BYTES; an emptied page is dropped.
//
// Views for snapshots (copy-on-write per page): freeze() returns the page list as it is; a page
// that may be in a live view (gen <= frozenGen) is never mutated again — a write replaces it with a
// copy — so a view stays exact while apply goes on. Pages made after the freeze are free to mutate.
import { Buffer } from 'node:buffer';
import { compareBytes, cursor, pageEntrySize, putVarint, readVarint } from './page-codec.ts';
import { SlotMemo } from './slot-memo.ts';
import { Page, PAGE_MAX_BYTES, pageOf, splice } from './page.ts';

export { compareBytes } from './page-codec.ts';
export { Page, PAGE_MAX_BYTES } from './page.ts';

/** A key's value and revisions, as read out of the store. */
export class KeyRecord {
  constructor(
    readonly value: string,
    /** Revision of the put that created the key (since it was last absent). */
    readonly create: number,
    /** Revision of the last put. */
    readonly mod: number,
    /** Puts since the key was created (1 after the first). */
    readonly version: number,
  ) {}
}

/** A frozen, ordered list of pages: their bytes [0, used) are the entries, ascending. */
export interface StoreView {
  readonly pages: readonly Page[];
  readonly keyCount: number;
  readonly entryBytes: number;
}

/** Where a key is, or would be inserted. */
interface Slot {
  pi: number;
  pos: number;
  found: boolean;
}

const scratch = { key: Buffer.allocUnsafeSlow(16 * 1024), entry: Buffer.allocUnsafeSlow(64 * 1024) };

function keyBytes(key: string): Buffer {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (key.length * 3 > scratch.key.length) return Buffer.from(key, 'utf8');
  const n = scratch.key.write(key, 0, 'utf8');
  return scratch.key.subarray(0, n);
}

/**
 * A copy in its own memory. Not Buffer.from: a small Buffer is a slice of a shared 8 KiB pool slab,
 * and one long-lived slice keeps its whole slab alive (one per page here: 8 KiB each).
 */
function ownCopy(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b, 0);
  return out;
}

export class KeyStore {
  private pages: Page[] = [];
  private seps: Buffer[] = [];
  private count = 0;
  /** Sum of key and value lengths in UTF-8 bytes. */
  private dataBytes = 0;
  private gen = 1;
  /** Generations of the live views; pages with gen <= the largest are shared with one. */
  private readonly liveViews: number[] = [];
  private frozenGen = 0;
  /**
   * The key the last get/has looked up and where it was: applying a put reads the key and then
   * writes it, and the write reuses the slot instead of searching again. Any write clears it.
   */
  private lastKey: string | null = null;
  private lastSlot: Slot = { pi: 0, pos: 0, found: false };
  /** Where recently found keys are (slot-memo.ts); cleared by every insert, delete and split. */
  private readonly memo = new SlotMemo();

  get size(): number {
    return this.count;
  }

  /** Keys and values in UTF-8 bytes. */
  get bytes(): number {
    return this.dataBytes;
  }

  /** The pages' allocated bytes (what the data costs outside the heap). */
  get allocatedBytes(): number {
    let n = 0;
    for (const p of this.pages) n += p.buf.length + p.offs.byteLength;
    return n;
  }

  /** Builds a store from pages already validated and in strictly ascending order (snapshot restore). */
  static fromPages(pages: Page[], dataBytes: number): KeyStore {
    const s = new KeyStore();
    s.pages = pages;
    s.seps = pages.map((p) => ownCopy(firstKey(p)));
    for (const p of pages) {
      s.count += p.count;
      p.gen = s.gen;
    }
    s.dataBytes = dataBytes;
    return s;
  }

  get(key: string): KeyRecord | undefined {
    const slot = this.look(key);
    return slot.found ? readRecord(this.pages[slot.pi] as Page, slot.pos) : undefined;
  }

  has(key: string): boolean {
    return this.look(key).found;
  }

  private look(key: string): Slot {
    let slot: Slot = { pi: 0, pos: 0, found: true };
    if (!this.memo.get(key, slot)) {
      slot = this.find(keyBytes(key));
      if (slot.found) this.memo.remember(key, slot.pi, slot.pos);
    }
    this.lastKey = key;
    this.lastSlot = slot;
    return slot;
  }

  /** Where `key` is (kb: its bytes): the slot of the last lookup when it was this key, else a search. Clears that slot (a write follows). */
  private slotForWrite(key: string, kb: Uint8Array): Slot {
    const slot = this.lastKey === key ? this.lastSlot : this.find(kb);
    this.lastKey = null;
    return slot;
  }

  /** Inserts or replaces `key`. */
  set(key: string, value: string, create: number, mod: number, version: number): void {
    const kb = keyBytes(key);
    const vlen = Buffer.byteLength(value, 'utf8');
    const size = pageEntrySize(kb.length, vlen, create, mod, version);
    const e = size <= scratch.entry.length ? scratch.entry : Buffer.allocUnsafe(size);
    let p = putVarint(e, 0, kb.length);
    p += kb.copy(e, p);
    p = putVarint(e, p, vlen);
    p += e.write(value, p, vlen, 'utf8');
    p = putVarint(e, p, create);
    p = putVarint(e, p, mod);
    p = putVarint(e, p, version);
    const slot = this.slotForWrite(key, kb);
    if (this.pages.length === 0) {
      this.pages.push(new Page(Buffer.allocUnsafeSlow(Math.max(256, size)), 0, new Uint32Array(8), 0, this.gen));
      this.seps.push(ownCopy(kb));
    }
    const page = this.mutable(slot.pi);
    if (slot.found) {
      bound(page, slot.pos);
      this.dataBytes -= at.ke - at.ks + (at.ve - at.vs);
      splice(page, slot.pos, 1, e.subarray(0, size));
    } else {
      this.memo.clear(); // the positions after it move
      const sep = this.seps[0] as Buffer;
      if (slot.pi === 0 && slot.pos === 0 && compareBytes(kb, 0, kb.length, sep, 0, sep.length) < 0)
        this.seps[0] = ownCopy(kb);
      splice(page, slot.pos, 0, e.subarray(0, size));
      this.count++;
    }
    this.dataBytes += kb.length + vlen;
    if (page.used > PAGE_MAX_BYTES && page.count >= 2) this.split(slot.pi, slot.pos === page.count - 1);
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: string): boolean {
    const slot = this.slotForWrite(key, keyBytes(key));
    if (!slot.found) return false;
    this.memo.clear(); // the positions after it move
    const page = this.mutable(slot.pi);
    bound(page, slot.pos);
    this.dataBytes -= at.ke - at.ks + (at.ve - at.vs);
    splice(page, slot.pos, 1, null);
    this.count--;
    if (page.count === 0) {
      this.pages.splice(slot.pi, 1);
      this.seps.splice(slot.pi, 1);
    } else if (page.used * 4 < page.buf.length && page.buf.length > 1024) {
      // Give memory back after many deletes.
      const buf = Buffer.allocUnsafeSlow(page.used * 2);
      page.buf.copy(buf, 0, 0, page.used);
      page.buf = buf;
    }
    return true;
  }

  /** Entries with keys >= start (byte order), ascending: key, record. Valid while no write happens. */
  *from(start: string): Generator<[string, KeyRecord]> {
    const slot = this.find(keyBytes(start));
    let pos = slot.pos;
    for (let pi = slot.pi; pi < this.pages.length; pi++, pos = 0) {
      const page = this.pages[pi] as Page;
      for (; pos < page.count; pos++) {
        bound(page, pos);
        const key = page.buf.toString('utf8', at.ks, at.ke);
        yield [key, readRecord(page, pos)];
      }
    }
  }

  /** Each entry with a key >= start, ascending, as (page, position) without decoding it (read it
   * with boundEntry), until `visit` returns false. No write may happen meanwhile. */
  scan(start: string, visit: (page: Page, pos: number) => boolean): void {
    const slot = this.find(keyBytes(start));
    let pos = slot.pos;
    for (let pi = slot.pi; pi < this.pages.length; pi++, pos = 0) {
      const page = this.pages[pi] as Page;
      for (; pos < page.count; pos++) if (!visit(page, pos)) return;
    }
  }

  /**
   * How many keys are >= lo and < hi (hi null: no upper bound), without reading an entry: each
   * bound's place is a binary search, and the keys between are the pages' counts summed from the
   * nearer end of the store — O(log n + pages), O(log n) for the whole store or a range at either
   * end. A count_only Range used to scan every key (200,000 keys: ~40–120 ms on the node's thread).
   */
  countBetween(lo: Uint8Array, hi: Uint8Array | null): number {
    if (hi !== null && compareBytes(lo, 0, lo.length, hi, 0, hi.length) >= 0) return 0;
    const end = hi === null ? this.count : this.indexOf(this.find(hi));
    return Math.max(0, end - this.indexOf(this.find(lo)));
  }

  /** The slot's place among all keys (keys before it), summing page counts from the nearer end. */
  private indexOf(slot: Slot): number {
    if (slot.pi * 2 <= this.pages.length) {
      let n = slot.pos;
      for (let i = 0; i < slot.pi; i++) n += (this.pages[i] as Page).count;
      return n;
    }
    let n = this.count + slot.pos;
    for (let i = slot.pi; i < this.pages.length; i++) n -= (this.pages[i] as Page).count;
    return n;
  }

  /** The pages as they are now; unchanged by later writes until release(view). */
  freeze(): StoreView {
    const view = { pages: this.pages.slice(), keyCount: this.count, entryBytes: this.totalEntryBytes(), gen: this.gen };
    this.liveViews.push(this.gen);
    this.frozenGen = this.gen;
    this.gen++;
    return view;
  }

  release(view: StoreView): void {
    const gen = (view as StoreView & { gen: number }).gen;
    const i = this.liveViews.indexOf(gen);
    if (i >= 0) this.liveViews.splice(i, 1);
    this.frozenGen = this.liveViews.length === 0 ? 0 : Math.max(...this.liveViews);
  }

  /** A view for immediate use (no write may happen while it is read); needs no release. */
  peek(): StoreView {
    return { pages: this.pages, keyCount: this.count, entryBytes: this.totalEntryBytes() };
  }

  private totalEntryBytes(): number {
    let n = 0;
    for (const p of this.pages) n += p.used;
    return n;
  }

  /** The page at `pi`, copied first if a live view may hold it. */
  private mutable(pi: number): Page {
    const p = this.pages[pi] as Page;
    if (p.gen > this.frozenGen) return p;
    const buf = Buffer.allocUnsafeSlow(Math.max(p.buf.length, 64));
    p.buf.copy(buf, 0, 0, p.used);
    const copy = new Page(buf, p.used, p.offs.slice(), p.count, this.gen);
    this.pages[pi] = copy;
    return copy;
  }

  /** Splits page `pi` in two by bytes; a page grown by an append at its end keeps all but that entry (sequential loads fill pages). */
  private split(pi: number, appended: boolean): void {
    this.memo.clear(); // positions in this page and the page indices after it move
    const p = this.pages[pi] as Page;
    let cut = appended && pi === this.pages.length - 1 ? p.count - 1 : 1;
    if (!(appended && pi === this.pages.length - 1)) {
      while (cut < p.count - 1 && (p.offs[cut] as number) < p.used / 2) cut++;
    }
    const left = pageOf(p, 0, cut, this.gen);
    const right = pageOf(p, cut, p.count, this.gen);
    this.pages.splice(pi, 1, left, right);
    this.seps.splice(pi + 1, 0, ownCopy(firstKey(right)));
  }

  /** Binary search: the page that holds (or would hold) `kb`, and the position in it. */
  private find(kb: Uint8Array): Slot {
    let lo = 0;
    let hi = this.seps.length - 1;
    // The last page whose separator is <= kb (page 0 if none).
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const sep = this.seps[mid] as Buffer;
      if (compareBytes(sep, 0, sep.length, kb, 0, kb.length) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const page = this.pages[lo];
    if (page === undefined) return { pi: 0, pos: 0, found: false };
    let a = 0;
    let b = page.count;
    while (a < b) {
      const mid = (a + b) >>> 1;
      bound(page, mid);
      const c = compareBytes(page.buf, at.ks, at.ke, kb, 0, kb.length);
      if (c === 0) return { pi: lo, pos: mid, found: true };
      if (c < 0) a = mid + 1;
      else b = mid;
    }
    return { pi: lo, pos: a, found: false };
  }
}

/** Bounds of the entry `bound()` last looked at: key [ks, ke), value [vs, ve). */
const at = { ks: 0, ke: 0, vs: 0, ve: 0 };
/** Where the entry boundEntry() last looked at lies in its page: key [ks, ke), value [vs, ve). */
export const entryAt: Readonly<typeof at> = at;
export { bound as boundEntry };

function bound(page: Page, i: number): void {
  const buf = page.buf;
  const klen = readVarint(buf, page.offs[i] as number);
  at.ks = cursor.end;
  at.ke = at.ks + klen;
  const vlen = readVarint(buf, at.ke);
  at.vs = cursor.end;
  at.ve = at.vs + vlen;
}

function readRecord(page: Page, i: number): KeyRecord {
  bound(page, i);
  const buf = page.buf;
  const value = buf.toString('utf8', at.vs, at.ve);
  const create = readVarint(buf, at.ve);
  const mod = readVarint(buf, cursor.end);
  const version = readVarint(buf, cursor.end);
  return new KeyRecord(value, create, mod, version);
}

function firstKey(p: Page): Uint8Array {
  bound(p, 0);
  return p.buf.subarray(at.ks, at.ke);
}
