// The consensus loop's lag (issue 13): how late the event loop of the thread that drives the core
// (ticks, heartbeats, acknowledgements, votes, lease renewals) runs its callbacks. A lag near the
// election timeout costs the leader its lease; /metrics and the dashboard show it. The client API
// thread measures its own the same way.
//
// While the thread works, node:perf_hooks' monitorEventLoopDelay samples the loop every
// resolutionMs (10 ms; native, cheap under load): a stall of S ms is seen as S − 10 to S ms. Its
// samples are intervals between firings; the period is taken off, so every figure here is a delay
// (before session 9 the figures included the 10 ms). Once the thread has had no work for
// idleAfterMs, the sampler stops and a probe timer every idleProbeMs records how late it fired
// (session 9, docs/benchmarks.md "Idle cost": at 10 ms the sampler woke an idle thread 100 times a
// second, a third of an idle member's wake-ups). An idle thread's stalls (an idle collection, a
// snapshot) are still seen when they cover a probe's due time — every one longer than idleProbeMs
// is, as S − idleProbeMs to S ms. The probe also asks, every idleProbeMs, whether the thread
// worked (`busy`), and the first yes brings the fine sampler back.
//
// The numbers are per window: the last complete window and the one filling are both kept, and
// each figure is the worse of the two, so that a stall shows for between one and two windows
// whenever it is scraped.
import { createHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { IntervalHistogram, RecordableHistogram } from 'node:perf_hooks';

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
  /** The sampling period while the thread works, ms. */
  readonly resolutionMs?: number;
  /** The probe's period, ms: the sampling period once idle, and how often busy() is asked. */
  readonly idleProbeMs?: number;
  /** How long busy() must say no before the idle period, ms. */
  readonly idleAfterMs?: number;
  /** Whether the thread worked since the last call (workMoved, loopBusy, anyOf). Default: loopBusy(0.1). */
  readonly busy?: () => boolean;
  /** Called after every probe: a duty of the caller's that rides on this timer instead of waking the thread itself. */
  readonly onProbe?: () => void;
}

const NS_PER_MS = 1e6;
const US_PER_MS = 1000;
export const LOOP_LAG_RESOLUTION_MS = 10;
export const LOOP_LAG_IDLE_PROBE_MS = 250;
export const LOOP_LAG_IDLE_AFTER_MS = 2000;

/** True when `count` moved since the last call (entries applied, requests, messages). */
export function workMoved(count: () => number): () => boolean {
  let last = count();
  return () => {
    const now = count();
    const moved = now !== last;
    last = now;
    return moved;
  };
}

/**
 * True when the event loop was busy at least `fraction` of the wall time since the last call. On an
 * oversubscribed machine a preempted callback counts for as long as it waits: keep it well above
 * what an idle thread's own timers cost there.
 */
export function loopBusy(fraction: number): () => boolean {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(now, last);
    last = now;
    return d.utilization >= fraction;
  };
}

export function anyOf(...tests: (() => boolean)[]): () => boolean {
  // Every test is asked each time (each keeps its own "since the last call").
  return () => tests.map((t) => t()).some((b) => b);
}

type Figures = { maxMs: number; p99Ms: number };
const worse = (a: Figures, b: Figures): Figures => ({
  maxMs: Math.max(a.maxMs, b.maxMs),
  p99Ms: Math.max(a.p99Ms, b.p99Ms),
});
const NONE: Figures = { maxMs: 0, p99Ms: 0 };

export class LoopLag {
  readonly #windowMs: number;
  readonly #fineMs: number;
  readonly #idleMs: number;
  readonly #idleAfterMs: number;
  readonly #busy: () => boolean;
  readonly #onProbe: (() => void) | undefined;
  /** Working: node:perf_hooks' sampler (native, every resolutionMs; it records the interval between its samples). */
  readonly #fine: IntervalHistogram;
  /** Idle: the probe's own lateness, µs. */
  #coarse: RecordableHistogram = createHistogram();
  /** The window filling: what was folded from the samplers so far; and the last complete one. */
  #acc: Figures = NONE;
  #last: Figures = NONE;
  #windowStartMs: number;
  #timer: NodeJS.Timeout | null = null;
  #dueMs = 0;
  #working = true;
  #lastBusyMs: number;

  constructor(opts: LoopLagOptions = {}) {
    this.#windowMs = opts.windowMs ?? 10_000;
    this.#fineMs = opts.resolutionMs ?? LOOP_LAG_RESOLUTION_MS;
    this.#idleMs = Math.max(this.#fineMs, opts.idleProbeMs ?? LOOP_LAG_IDLE_PROBE_MS);
    this.#idleAfterMs = opts.idleAfterMs ?? LOOP_LAG_IDLE_AFTER_MS;
    this.#busy = opts.busy ?? loopBusy(0.1);
    this.#onProbe = opts.onProbe;
    this.#fine = monitorEventLoopDelay({ resolution: this.#fineMs });
    this.#fine.enable(); // a thread that just started is working
    const now = performance.now();
    this.#windowStartMs = now;
    this.#lastBusyMs = now;
    this.#arm(now);
  }

  /** The sampling period now, ms: resolutionMs while the thread works, idleProbeMs once idle. */
  get periodMs(): number {
    return this.#working ? this.#fineMs : this.#idleMs;
  }

  #arm(now: number): void {
    this.#dueMs = now + this.#idleMs;
    this.#timer = setTimeout(() => this.#probe(), this.#idleMs);
    this.#timer.unref();
  }

  #probe(): void {
    const now = performance.now();
    // While working the native sampler measures (finer); the probe's own lateness counts too.
    this.#coarse.record(Math.max(1, Math.round(Math.max(0, now - this.#dueMs) * US_PER_MS)));
    if (this.#busy()) this.#lastBusyMs = now;
    const working = now - this.#lastBusyMs < this.#idleAfterMs;
    if (now - this.#windowStartMs >= this.#windowMs) {
      this.#last = this.#current();
      this.#acc = NONE;
      this.#coarse = createHistogram();
      this.#fine.reset();
      this.#windowStartMs = now;
    }
    if (working !== this.#working) {
      this.#working = working;
      if (working) {
        this.#fine.reset(); // its first sample is then one period after enable, not after the last disable
        this.#fine.enable();
      } else {
        this.#acc = worse(this.#acc, this.#fineFigures());
        this.#fine.disable();
        this.#fine.reset();
      }
    }
    this.#onProbe?.();
    if (this.#timer !== null) this.#arm(performance.now());
  }

  /** The native sampler's figures as delays: each sample is the interval since the previous one. */
  #fineFigures(): Figures {
    const h = this.#fine;
    // Before its first sample the histogram reports max 0 and a huge min; percentiles are 0.
    if (h.count === 0) return NONE;
    const delay = (ns: number): number => Math.max(0, ns / NS_PER_MS - this.#fineMs);
    return { maxMs: delay(h.max), p99Ms: delay(h.percentile(99)) };
  }

  #current(): Figures {
    const c = this.#coarse;
    const coarse = c.count === 0 ? NONE : { maxMs: c.max / US_PER_MS, p99Ms: c.percentile(99) / US_PER_MS };
    return worse(worse(this.#acc, coarse), this.#working ? this.#fineFigures() : NONE);
  }

  stats(): LoopLagStats {
    return { ...worse(this.#current(), this.#last), windowMs: this.#windowMs };
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#fine.disable();
  }
}

/**
 * The node thread's: its work is the entries applied plus the client requests it served (counted,
 * not timed: on an oversubscribed machine its heartbeats alone keep the loop 15 % busy in wall
 * time, idle-collect.ts), and its idle probe runs every 100 ms, so that every stall of 100 ms or
 * more on an idle member shows, short of its length by less than 100 ms.
 */
export function nodeLoopLag(
  node: { events: { on(event: 'request', listener: () => void): unknown } },
  applied: () => number,
): LoopLag {
  let requests = 0;
  node.events.on('request', () => requests++);
  return new LoopLag({ busy: workMoved(() => applied() + requests), idleProbeMs: NODE_IDLE_PROBE_MS });
}

/** The node thread's idle probe period, ms. */
export const NODE_IDLE_PROBE_MS = 100;
