// Request rate and latency over the dashboard's short status interval: a fixed log-scale histogram
// (4 buckets per doubling, 1 µs .. ~70 s), so that a burst of 100k requests costs no memory.

const BUCKETS_PER_DOUBLING = 4;
const BUCKETS = 26 * BUCKETS_PER_DOUBLING;
const MIN_US = 1;

export interface LatencySummary {
  readonly count: number;
  readonly errors: number;
  /** Upper bounds of the buckets holding the 50th and 99th percentiles, ms (0 with no requests). */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export class LatencyWindow {
  private readonly counts = new Uint32Array(BUCKETS);
  private count = 0;
  private errors = 0;

  record(ms: number, ok: boolean): void {
    const us = Math.max(MIN_US, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.max(0, Math.ceil(Math.log2(us / MIN_US) * BUCKETS_PER_DOUBLING)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    if (!ok) this.errors++;
  }

  /** Summarises and clears the window. */
  take(): LatencySummary {
    const out = { count: this.count, errors: this.errors, p50Ms: this.quantileMs(0.5), p99Ms: this.quantileMs(0.99) };
    this.counts.fill(0);
    this.count = 0;
    this.errors = 0;
    return out;
  }

  private quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return (MIN_US * 2 ** (i / BUCKETS_PER_DOUBLING)) / 1000;
    }
    return (MIN_US * 2 ** ((BUCKETS - 1) / BUCKETS_PER_DOUBLING)) / 1000;
  }
}
