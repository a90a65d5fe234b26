// The consensus loop's lag (issue 13): how late the event loop of the thread that drives the core
// (ticks, heartbeats, acknowledgements, votes, lease renewals) runs its callbacks. A lag near the
// election timeout costs the leader its lease; /metrics and the dashboard show it.
//
// node:perf_hooks' monitorEventLoopDelay samples the loop with a timer every resolutionMs and
// records how late each sample fired. The numbers are per window: the last complete window and the
// one filling are both kept, and each figure is the worse of the two, so that a stall shows for
// between one and two windows whenever it is scraped.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoopLagStats {
  /** Longest delay seen in the window, ms. */
  readonly maxMs: number;
  /** 99th percentile of the delays sampled in the window, ms. */
  readonly p99Ms: number;
  /** The window the figures cover, ms. */
  readonly windowMs: number;
}

export interface LoopLagOptions {
  readonly windowMs?: number;
  readonly resolutionMs?: number;
}

const NS_PER_MS = 1e6;

export class LoopLag {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  readonly #windowMs: number;
  #last = { maxMs: 0, p99Ms: 0 };

  constructor(opts: LoopLagOptions = {}) {
    this.#windowMs = opts.windowMs ?? 10_000;
    this.#histogram = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#last = this.#current();
      this.#histogram.reset();
    }, this.#windowMs);
    this.#timer.unref();
  }

  #current(): { maxMs: number; p99Ms: number } {
    const h = this.#histogram;
    // Before its first sample the histogram reports max 0 and a huge min; percentiles are 0.
    if (h.count === 0) return { maxMs: 0, p99Ms: 0 };
    return { maxMs: h.max / NS_PER_MS, p99Ms: h.percentile(99) / NS_PER_MS };
  }

  stats(): LoopLagStats {
    const now = this.#current();
    return {
      maxMs: Math.max(now.maxMs, this.#last.maxMs),
      p99Ms: Math.max(now.p99Ms, this.#last.p99Ms),
      windowMs: this.#windowMs,
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
