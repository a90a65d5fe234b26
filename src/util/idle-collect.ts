// When a thread that went idle should collect its garbage (issue 16; docs/storage.md, "Memory"):
// after a load V8 keeps each heap at the size the load grew it to, and dead Buffers allocated, for
// as long as the thread stays quiet — a thread that allocates little does not collect. So each
// thread looks every checkIntervalMs at its work and at what its V8 isolate holds (heap + off-heap
// bytes), and collects once the last interval was quiet and it holds at least minGrowthBytes more
// than after its last collection, at most once per minGapMs. Never under load (a busy thread is not
// idle); a thread that stays quiet collects once and then not again until it has grown again.
//
// Growth, not work done, says whether a collection is worth it. Until session 7 it was work (2,000
// entries applied since the last collection on the node thread): a node that had collected in a
// quiet second during the load (an election, a stall on a loaded machine) then applied the last
// ~1,500 entries of 100 puts each and never collected — 71 MiB of heap for 32 live and 33 MiB of
// dead entry bytes, ~27 MiB resident for good (docs/benchmarks.md, "Issue 16, session 7:
// steady-state memory").
// The collection itself is the caller's (server/idle-collect.ts, storage/persist_worker.ts).
import { getHeapStatistics } from 'node:v8';
import { performance } from 'node:perf_hooks';

export interface IdleCollectOptions {
  /** How often the thread looks at its work. */
  readonly checkIntervalMs: number;
  /** At most this much work in the last interval counts as idle (in the meter's unit). */
  readonly quietWork: number;
  /** Held this much more than right after the last collection (or the start) makes another worthwhile. */
  readonly minGrowthBytes: number;
  /** At least this long between two collections. */
  readonly minGapMs: number;
}

/** What the policy reads: work done so far (cumulative), what the thread holds, and the time. */
export interface WorkMeter {
  work(): number;
  /** This thread's V8 heap (committed) plus off-heap bytes now. */
  heldBytes(): number;
  /** Monotonic time, ms. */
  nowMs(): number;
}

/** This isolate's committed heap and its off-heap (external: Buffers, ArrayBuffers) bytes. */
export function isolateHeldBytes(): number {
  const s = getHeapStatistics();
  return s.total_heap_size + s.external_memory;
}

/** A thread's work as the busy (callback) time of its event loop, ms. */
export const LOOP_BUSY_MS: WorkMeter = {
  work: () => performance.eventLoopUtilization().active,
  heldBytes: isolateHeldBytes,
  nowMs: () => performance.now(),
};

/** A thread's work as a count the caller keeps (e.g. entries applied + requests). */
export function countedWork(count: () => number): WorkMeter {
  return { work: count, heldBytes: isolateHeldBytes, nowMs: () => performance.now() };
}

/** The decision, without timers: call look() every checkIntervalMs, and collected() after collecting. */
export class IdleCollectPolicy {
  #lastWork: number;
  /** What the thread held after its last collection, or less if it shrank by itself since. */
  #baseBytes: number;
  #lastCollectMs = -Infinity;

  constructor(
    private readonly o: IdleCollectOptions,
    private readonly meter: WorkMeter,
  ) {
    this.#lastWork = meter.work();
    this.#baseBytes = meter.heldBytes();
  }

  /** Whether to collect now. */
  look(): boolean {
    const work = this.meter.work();
    const done = work - this.#lastWork;
    this.#lastWork = work;
    const held = this.meter.heldBytes();
    // V8's own collections may have given memory back: growth counts from the lowest point.
    if (held < this.#baseBytes) this.#baseBytes = held;
    if (done > this.o.quietWork) return false;
    if (held - this.#baseBytes < this.o.minGrowthBytes) return false;
    const now = this.meter.nowMs();
    if (now - this.#lastCollectMs < this.o.minGapMs) return false;
    this.#lastCollectMs = now;
    return true;
  }

  /** After the collection: growth counts from what is held now. */
  collected(): void {
    this.#baseBytes = this.meter.heldBytes();
  }
}

/** Runs the policy on this thread with a timer that does not keep the process alive; returns stop. */
export function startIdleCollect(o: IdleCollectOptions, meter: WorkMeter, collect: () => void): () => void {
  const policy = new IdleCollectPolicy(o, meter);
  const timer = setInterval(() => {
    if (!policy.look()) return;
    collect();
    policy.collected();
  }, o.checkIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
