// A compacting, memory-reducing garbage collection once a thread goes idle after heavy work (issue
// 16). After a load, V8 keeps each heap at the size the load grew it to — tens of MiB of old space
// over what is live on the node thread, up to ~40 MiB on the client API thread (docs/benchmarks.md,
// "Scale and memory") — and dead Buffers allocated, resident for as long as the node stays quiet:
// a thread that allocates little does not collect, and V8's memory-reducing collection does not move
// the survivors scattered over the heap's pages, so those pages stay (storage/release_memory.ts).
//
// So each thread looks at its work every checkIntervalMs — the node thread counts entries applied
// and requests served, the client API thread its event loop's busy time — and once it has done at
// least minWork since its last collection (counted only over intervals with more than quietWork)
// and the last interval had at most quietWork, it collects, compacting (a pause of tens of ms on
// this thread). Never under load — a busy thread is not idle — and at most once per minGapMs; a
// node that stays quiet collects once and then never again until it works again.
import { performance } from 'node:perf_hooks';
import { collectGarbage } from '../storage/release_memory.ts';

export interface IdleCollectOptions {
  /** How often the thread looks at its work. */
  readonly checkIntervalMs: number;
  /** Work done since the last collection that makes another worthwhile. */
  readonly minWork: number;
  /** At most this much work in the last interval counts as idle. */
  readonly quietWork: number;
  /** At least this long between two collections. */
  readonly minGapMs: number;
}

/**
 * The node thread's work: entries applied plus client requests it served. Counted, not timed: on
 * an oversubscribed machine a member's heartbeats alone kept its event loop more than 15 % busy in
 * wall time (a callback preempted by other processes counts for as long as it waits), and with
 * the loop's utilization as the measure no member of a million-key run at load ~26 collected until
 * it lost its leader, ~20 s after the load (docs/benchmarks.md, "Issue 16, session 6").
 */
export const NODE_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  minWork: 2000,
  quietWork: 10, // a few status calls or writes a second
  minGapMs: 30_000,
};

/** The client API thread's work: ms of its event loop busy (it has no heartbeats to inflate it). */
export const API_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  minWork: 2000,
  quietWork: 150, // 15 % of the interval
  minGapMs: 30_000,
};

/** What the policy reads: work done so far (cumulative, in the options' unit) and the time. */
export interface WorkMeter {
  work(): number;
  /** Monotonic time, ms. */
  nowMs(): number;
}

/** A thread's work as the busy (callback) time of its event loop, ms. */
export const LOOP_BUSY_MS: WorkMeter = {
  work: () => performance.eventLoopUtilization().active,
  nowMs: () => performance.now(),
};

/** A thread's work as a count the caller keeps (e.g. entries applied + requests). */
export function countedWork(count: () => number): WorkMeter {
  return { work: count, nowMs: () => performance.now() };
}

/** The decision, without timers: call look() every checkIntervalMs; it says whether to collect now. */
export class IdleCollectPolicy {
  #lastWork: number;
  #workSinceCollect = 0;
  #lastCollectMs = -Infinity;

  constructor(
    private readonly o: IdleCollectOptions,
    private readonly meter: WorkMeter,
  ) {
    this.#lastWork = meter.work();
  }

  look(): boolean {
    const work = this.meter.work();
    const now = this.meter.nowMs();
    const done = work - this.#lastWork;
    this.#lastWork = work;
    if (done > this.o.quietWork) {
      // Only work counts: an idle node's own chatter (heartbeats, timers) never adds up to a collection.
      this.#workSinceCollect += done;
      return false;
    }
    if (this.#workSinceCollect < this.o.minWork || now - this.#lastCollectMs < this.o.minGapMs) return false;
    this.#workSinceCollect = 0;
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
  o: IdleCollectOptions,
  meter: WorkMeter,
  collect: () => void = () => collectGarbage({ compact: true }),
): () => void {
  const policy = new IdleCollectPolicy(o, meter);
  const timer = setInterval(() => {
    if (policy.look()) collect();
  }, o.checkIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The node thread's idle collection: its work is the entries applied (`applied`: the applied index)
 * plus the client requests it served ('request' events), and a collection is logged.
 */
export function startNodeIdleCollect(
  applied: () => number,
  events: { on(event: 'request', listener: () => void): unknown },
  log: { info(obj: object, msg: string): void },
): () => void {
  let requests = 0;
  events.on('request', () => requests++);
  return startIdleCollect(
    NODE_IDLE_COLLECT,
    countedWork(() => applied() + requests),
    collectLogged(log),
  );
}
