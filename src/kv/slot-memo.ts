// Where recently found keys sit in the store's pages (store.ts), so that a lookup of a key read
// lately — applying a put reads the key it then writes, and write loads revisit their keys — skips
// the binary search. That search touches a dozen places in the pages and the separators, and on a
// busy member most of them are cache misses: in a perf profile of a 64-client write run `look` was
// ~5 % of a follower's consensus thread, ~2 µs per write, where a micro-benchmark with the pages in
// cache spends ~0.3 µs (issue 16; docs/benchmarks.md, "Write path, session 12").
//
// A slot stays right while no key is added or removed and no page splits (replacing a value moves
// bytes, not positions): the store clears the memo on each of those. Bounded in keys and in their
// total length (keys may be up to 64 KiB), so it costs no memory per key of a large store: at most
// ~0.5 MiB of key strings and the map's 8,192 entries.

/** Positions are below this (a 16 KiB page holds far fewer entries). */
const POS_SPAN = 2 ** 16;
/** At most this many keys are remembered; past it the memo starts over. */
export const SLOT_MEMO_MAX_KEYS = 8192;
/** The remembered keys' total length, in UTF-16 units, at most; a longer key is not remembered. */
export const SLOT_MEMO_MAX_CHARS = 256 * 1024;
const KEY_MAX_CHARS = 1024;

export class SlotMemo {
  /** key → page index · POS_SPAN + position in the page. */
  private readonly slots = new Map<string, number>();
  private chars = 0;

  /** The remembered page index and position of `key`, written into `out`; false if none. */
  get(key: string, out: { pi: number; pos: number }): boolean {
    const at = this.slots.get(key);
    if (at === undefined) return false;
    out.pi = Math.floor(at / POS_SPAN);
    out.pos = at % POS_SPAN;
    return true;
  }

  remember(key: string, pi: number, pos: number): void {
    if (pos >= POS_SPAN || key.length > KEY_MAX_CHARS) return;
    if (this.slots.size >= SLOT_MEMO_MAX_KEYS || this.chars + key.length > SLOT_MEMO_MAX_CHARS) this.clear();
    this.slots.set(key, pi * POS_SPAN + pos);
    this.chars += key.length;
  }

  /** Positions moved: forget them all. */
  clear(): void {
    if (this.slots.size > 0) this.slots.clear();
    this.chars = 0;
  }

  /** The remembered keys' total length in UTF-16 units. */
  get keyChars(): number {
    return this.chars;
  }

  get size(): number {
    return this.slots.size;
  }
}
