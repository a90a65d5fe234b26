// A compacting, memory-reducing garbage collection once a thread goes idle after heavy work (issue
// 16). After a load, V8 keeps each heap at the size the load grew it to — tens of MiB of old space
// over what is live on the node thread, up to ~40 MiB on the client API thread (docs/benchmarks.md,
// "Scale and memory") — and dead Buffers allocated, resident for as long as the node stays quiet:
// a thread that allocates little does not collect, and V8's memory-reducing collection does not move
// the survivors scattered over the heap's pages, so those pages stay (storage/release_memory.ts).
//
// So each thread looks at its own event loop every checkIntervalMs: once it has been busy for at
// least minBusyMs (loop time spent running callbacks, counted only over intervals that were more
// than idleUtilization busy) since its last collection and the last look found the loop at most
// idleUtilization busy, it collects, compacting (a pause of tens of ms on this thread). Never under
// load — a busy loop is not idle — and at most once per minGapMs; a node that stays quiet collects
// once and then never again until it works again.
import { performance } from 'node:perf_hooks';
import { collectGarbage } from '../storage/release_memory.ts';

export interface IdleCollectOptions {
  /** How often the thread looks at its loop. */
  readonly checkIntervalMs: number;
  /** Loop time spent busy since the last collection that makes another worthwhile. */
  readonly minBusyMs: number;
  /** At most this share of the last interval busy (0..1) counts as idle. */
  readonly idleUtilization: number;
  /** At least this long between two collections. */
  readonly minGapMs: number;
}

export const DEFAULT_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  minBusyMs: 2000,
  idleUtilization: 0.05,
  minGapMs: 30_000,
};

/** What the policy reads: the loop's busy time so far and the time, both cumulative ms. */
export interface LoopClock {
  /** Busy (callback) time of this thread's event loop so far, ms. */
  busyMs(): number;
  /** Monotonic time, ms. */
  nowMs(): number;
}

export const REAL_LOOP_CLOCK: LoopClock = {
  busyMs: () => performance.eventLoopUtilization().active,
  nowMs: () => performance.now(),
};

/** The decision, without timers: call look() every checkIntervalMs; it says whether to collect now. */
export class IdleCollectPolicy {
  #lastBusyMs: number;
  #lastNowMs: number;
  #busySinceCollectMs = 0;
  #lastCollectMs = -Infinity;

  constructor(
    private readonly o: IdleCollectOptions,
    private readonly clock: LoopClock,
  ) {
    this.#lastBusyMs = clock.busyMs();
    this.#lastNowMs = clock.nowMs();
  }

  look(): boolean {
    const busy = this.clock.busyMs();
    const now = this.clock.nowMs();
    const busyMs = busy - this.#lastBusyMs;
    const elapsedMs = now - this.#lastNowMs;
    this.#lastBusyMs = busy;
    this.#lastNowMs = now;
    if (elapsedMs <= 0) return false;
    if (busyMs / elapsedMs > this.o.idleUtilization) {
      // Only work counts: an idle node's own chatter (heartbeats, timers) never adds up to a collection.
      this.#busySinceCollectMs += busyMs;
      return false;
    }
    if (this.#busySinceCollectMs < this.o.minBusyMs || now - this.#lastCollectMs < this.o.minGapMs) return false;
    this.#busySinceCollectMs = 0;
    this.#lastCollectMs = now;
    return true;
  }
}

/** A collection that logs what it freed (heap used and total, off-heap and resident MiB, before and after). */
export function collectLogged(log: { info(obj: object, msg: string): void }): () => void {
  return () => {
    const mib = (b: number): number => Math.round(b / 2 ** 20);
    const before = process.memoryUsage();
    collectGarbage({ compact: true });
    const after = process.memoryUsage();
    log.info(
      {
        heapUsedMiB: [mib(before.heapUsed), mib(after.heapUsed)],
        heapMiB: [mib(before.heapTotal), mib(after.heapTotal)],
        externalMiB: [mib(before.external), mib(after.external)],
        rssMiB: [mib(before.rss), mib(after.rss)],
      },
      'idle after work: garbage collected',
    );
  };
}

/** Runs the policy on this thread with a timer that does not keep the process alive; returns stop. */
export function startIdleCollect(
  o: IdleCollectOptions = DEFAULT_IDLE_COLLECT,
  collect: () => void = () => collectGarbage({ compact: true }),
  clock: LoopClock = REAL_LOOP_CLOCK,
): () => void {
  const policy = new IdleCollectPolicy(o, clock);
  const timer = setInterval(() => {
    if (policy.look()) collect();
  }, o.checkIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
