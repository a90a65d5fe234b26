// The search's memo of visited (set of linearized ops, model state id) pairs, in flat typed arrays:
// millions of entries as small objects would spend most of the time in the garbage collector.
// A chained hash table: heads[h & mask] → entry → nextInChain → ... ; bitsets live in one pool.

const EMPTY = -1;
const INITIAL_ENTRIES = 64;

export class VisitedSet {
  private readonly words: number;
  private heads: Int32Array;
  private chain: Int32Array;
  private hashes: Uint32Array;
  private states: Int32Array;
  private pool: Uint32Array;
  /** Number of entries stored. */
  size = 0;

  constructor(bitsetWords: number) {
    this.words = bitsetWords;
    this.heads = new Int32Array(INITIAL_ENTRIES).fill(EMPTY);
    this.chain = new Int32Array(INITIAL_ENTRIES);
    this.hashes = new Uint32Array(INITIAL_ENTRIES);
    this.states = new Int32Array(INITIAL_ENTRIES);
    this.pool = new Uint32Array(INITIAL_ENTRIES * bitsetWords);
  }

  /**
   * Adds (bits, stateId) unless present. `hash` must be a function of (bits, stateId) only.
   * Returns true if it was added (not seen before).
   */
  add(bits: Uint32Array, stateId: number, hash: number): boolean {
    const w = this.words;
    for (let e = this.heads[hash & (this.heads.length - 1)] as number; e !== EMPTY; e = this.chain[e] as number) {
      if (this.hashes[e] !== hash || this.states[e] !== stateId) continue;
      let same = true;
      const base = e * w;
      for (let k = 0; k < w; k++) {
        if (this.pool[base + k] !== bits[k]) {
          same = false;
          break;
        }
      }
      if (same) return false;
    }
    if (this.size === this.states.length) this.grow();
    const e = this.size++;
    this.hashes[e] = hash;
    this.states[e] = stateId;
    this.pool.set(bits, e * w);
    const slot = hash & (this.heads.length - 1);
    this.chain[e] = this.heads[slot] as number;
    this.heads[slot] = e;
    return true;
  }

  private grow(): void {
    const cap = this.states.length * 2;
    const grow32 = <T extends Int32Array | Uint32Array>(a: T, make: (n: number) => T, n: number): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.chain = grow32(this.chain, (n) => new Int32Array(n), cap);
    this.hashes = grow32(this.hashes, (n) => new Uint32Array(n), cap);
    this.states = grow32(this.states, (n) => new Int32Array(n), cap);
    this.pool = grow32(this.pool, (n) => new Uint32Array(n), cap * this.words);
    // Rehash: the table keeps one head per entry slot (load factor <= 1).
    this.heads = new Int32Array(cap).fill(EMPTY);
    const mask = cap - 1;
    for (let e = 0; e < this.size; e++) {
      const slot = (this.hashes[e] as number) & mask;
      this.chain[e] = this.heads[slot] as number;
      this.heads[slot] = e;
    }
  }
}
