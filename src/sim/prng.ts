// Seeded pseudo-random source for the simulator: xoshiro128** seeded through splitmix32.
// Every source of non-determinism in a simulated run is drawn from a Prng derived from the seed,
// so that a seed replays a run exactly (TigerBeetle style). Never use Math.random in src/sim.

function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Prng seed must be a safe integer, got ${seed}`);
    // Fold both halves of the seed so seeds above 2^32 differ too.
    let s = (seed | 0) ^ Math.floor(seed / 0x100000000);
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [v, n] = splitmix32(s);
      out.push(v);
      s = n;
    }
    [this.a, this.b, this.c, this.d] = out as [number, number, number, number];
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Prng.int: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Uniform real in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Prng.pick: empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** An independent stream, so that adding draws to one concern does not shift another's. */
  fork(): Prng {
    return new Prng(this.nextU32() * 0x200000 + (this.nextU32() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A draw function on a stream forked from `root` (for parts that take `() => number`). */
export function forkFn(root: Prng): () => number {
  const rng = root.fork();
  return () => rng.next();
}
