// An ordered index of keys for prefix scans: a list of sorted blocks (the "sorted list of lists"
// layout), so insert/delete cost O(log n + BLOCK) and a scan costs O(log n + results) — a prefix scan
// over a million keys never sorts them. Memory: one pointer per key (the strings are shared with the
// Map that holds the values).
//
// Order is JavaScript string order (UTF-16 code units). It equals UTF-8 byte order except between
// characters above U+FFFF and characters in U+E000..U+FFFF.

/** Target block length; a block splits when it reaches 2 × BLOCK. */
const BLOCK = 512;

export class SortedKeys {
  /** Invariants: every block is non-empty and sorted; maxes[i] is the last key of blocks[i]; blocks are in order. */
  private blocks: string[][] = [];
  private maxes: string[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.blocks = [];
    this.maxes = [];
    this.count = 0;
  }

  /** Builds from keys already strictly ascending (snapshot restore); trusts the caller's order. */
  static fromSorted(keys: readonly string[]): SortedKeys {
    const s = new SortedKeys();
    for (let i = 0; i < keys.length; i += BLOCK) {
      const block = keys.slice(i, i + BLOCK);
      s.blocks.push(block);
      s.maxes.push(block[block.length - 1] as string);
    }
    s.count = keys.length;
    return s;
  }

  /** Index of the first block whose max >= key, or blocks.length. */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.maxes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.maxes[mid] as string) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts a key that is not present (the caller's Map knows). */
  insert(key: string): void {
    this.count++;
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      this.maxes.push(key);
      return;
    }
    let bi = this.blockFor(key);
    if (bi === this.blocks.length) bi--; // greater than every key: append to the last block
    const block = this.blocks[bi] as string[];
    const pos = lowerBound(block, key);
    block.splice(pos, 0, key);
    if (pos === block.length - 1) this.maxes[bi] = key;
    if (block.length >= 2 * BLOCK) {
      const tail = block.splice(BLOCK);
      this.blocks.splice(bi + 1, 0, tail);
      this.maxes.splice(bi, 1, block[block.length - 1] as string, tail[tail.length - 1] as string);
    }
  }

  /** Removes a key that is present. */
  delete(key: string): void {
    const bi = this.blockFor(key);
    const block = this.blocks[bi];
    if (block === undefined) throw new Error(`SortedKeys.delete: missing key ${key}`);
    const pos = lowerBound(block, key);
    if (block[pos] !== key) throw new Error(`SortedKeys.delete: missing key ${key}`);
    block.splice(pos, 1);
    this.count--;
    if (block.length === 0) {
      this.blocks.splice(bi, 1);
      this.maxes.splice(bi, 1);
    } else if (pos === block.length) {
      this.maxes[bi] = block[block.length - 1] as string;
    }
  }

  /** The blocks, in order (read-only view; valid until the next insert/delete). */
  blocksView(): readonly (readonly string[])[] {
    return this.blocks;
  }

  /** A copy of the blocks (one pointer per key), unaffected by later inserts/deletes. */
  copyBlocks(): string[][] {
    return this.blocks.map((b) => b.slice());
  }

  /** Keys >= start, ascending. */
  *from(start: string): Generator<string> {
    let bi = this.blockFor(start);
    if (bi >= this.blocks.length) return;
    let pos = lowerBound(this.blocks[bi] as string[], start);
    for (; bi < this.blocks.length; bi++, pos = 0) {
      const block = this.blocks[bi] as string[];
      for (; pos < block.length; pos++) yield block[pos] as string;
    }
  }
}

function lowerBound(a: readonly string[], key: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
