// A page of the key store (store.ts): entries back to back in one Buffer, their offsets, and the
// edits that keep it so — an entry replaced, inserted or removed in place, a run of entries cut out
// into a page of its own (a split).
import { Buffer } from 'node:buffer';

/** A page splits once its entries pass this many bytes (a single larger entry gets a page of its own size). */
export const PAGE_MAX_BYTES = 16 * 1024;

export class Page {
  constructor(
    public buf: Buffer,
    public used: number,
    /** offs[i]: where entry i starts (i < count). */
    public offs: Uint32Array,
    public count: number,
    public gen: number,
  ) {}
}

function entryEnd(p: Page, i: number): number {
  return i + 1 < p.count ? (p.offs[i + 1] as number) : p.used;
}

/** A new page with entries [from, to) of `p`, sized exactly (a page that gets an insert grows by a quarter). */
export function pageOf(p: Page, from: number, to: number, gen: number): Page {
  const start = p.offs[from] as number;
  const end = entryEnd(p, to - 1);
  const bytes = end - start;
  const buf = Buffer.allocUnsafeSlow(bytes);
  p.buf.copy(buf, 0, start, end);
  const n = to - from;
  const offs = new Uint32Array(Math.max(8, n + (n >> 3)));
  for (let i = 0; i < n; i++) offs[i] = (p.offs[from + i] as number) - start;
  return new Page(buf, bytes, offs, n, gen);
}

/** Replaces `remove` (0 or 1) entries at `pos` with `entry` (or nothing). */
export function splice(p: Page, pos: number, remove: 0 | 1, entry: Uint8Array | null): void {
  const start = pos < p.count ? (p.offs[pos] as number) : p.used;
  const oldEnd = remove === 1 ? entryEnd(p, pos) : start;
  const add = entry === null ? 0 : entry.length;
  const delta = add - (oldEnd - start);
  const need = p.used + delta;
  if (need > p.buf.length) {
    const cap = Math.max(need, Math.min(Math.ceil(p.buf.length * 1.25), PAGE_MAX_BYTES + 4096));
    const buf = Buffer.allocUnsafeSlow(cap);
    p.buf.copy(buf, 0, 0, start);
    p.buf.copy(buf, start + add, oldEnd, p.used);
    p.buf = buf;
  } else if (delta !== 0) {
    p.buf.copy(p.buf, start + add, oldEnd, p.used);
  }
  if (entry !== null) p.buf.set(entry, start);
  p.used = need;
  // Offsets: entries after pos shift by delta; an insert adds one slot.
  const countDelta = (entry === null ? 0 : 1) - remove;
  if (countDelta === 1 && p.count + 1 > p.offs.length) {
    const offs = new Uint32Array(Math.max(8, Math.ceil(p.offs.length * 1.5)));
    offs.set(p.offs.subarray(0, p.count));
    p.offs = offs;
  }
  const tailFrom = pos + remove;
  if (countDelta !== 0) p.offs.copyWithin(pos + (entry === null ? 0 : 1), tailFrom, p.count);
  p.count += countDelta;
  if (entry !== null) p.offs[pos] = start;
  for (let i = entry === null ? pos : pos + 1; i < p.count; i++) p.offs[i] = (p.offs[i] as number) + delta;
}
