// Automatic compaction of the revision history (issue 14; docs/api.md "Revisions"), as etcd's
// --auto-compaction-mode/--auto-compaction-retention: by age and/or by count. Only the leader decides,
// and what it decides is an ordinary `Compact` through the log, so every member cuts its history at
// the same revision and a watcher resuming before it gets `compacted` wherever it reconnects.
//
// Rules:
// - By count (maxRevisions N): keep the last N revisions — compact to revision − N + 1 — once that is
//   at least max(1, N/10) past the current compact revision (one log entry per tenth of N, not one
//   per write: up to 10% more than N is kept).
// - By age (maxAgeMs A): the leader samples (its monotonic clock, the revision) every
//   min(A/10, 5 s); a sample older than A gives a revision all of whose predecessors are older than
//   A. A new leader starts without samples, so after a leader change nothing is compacted by age
//   until it has led for A: history is never cut early, only late.
// - Both: whichever cuts more. Neither (both 0): off.
// - One proposal at a time; a failed one (leadership moved) is simply decided again later.

export interface AutoCompaction {
  /** Forget revisions older than this (ms); 0: not by age. */
  readonly maxAgeMs: number;
  /** Keep at most this many revisions (plus up to 10%); 0: not by count. */
  readonly maxRevisions: number;
}

export const DEFAULT_AUTO_COMPACTION: AutoCompaction = { maxAgeMs: 3_600_000, maxRevisions: 0 };

/** How often the leader looks (and, by age, samples). */
export function checkIntervalMs(p: AutoCompaction): number {
  return p.maxAgeMs > 0 ? Math.min(5000, Math.max(10, Math.floor(p.maxAgeMs / 10))) : 1000;
}

/** The decision, without clock or I/O: fed what the node sees, says which revision to compact to. */
export class CompactionPolicy {
  private samples: { atMs: number; revision: number }[] = [];
  private leading = false;

  constructor(private readonly p: AutoCompaction) {}

  get enabled(): boolean {
    return this.p.maxAgeMs > 0 || this.p.maxRevisions > 0;
  }

  /** The revision to compact to now, or null. Call every checkIntervalMs. */
  decide(nowMs: number, isLeader: boolean, revision: number, compactRevision: number): number | null {
    if (!isLeader || !this.enabled) {
      this.leading = false;
      this.samples = [];
      return null;
    }
    if (!this.leading) {
      this.leading = true;
      this.samples = [];
    }
    let target = 0;
    let minStep = 1;
    if (this.p.maxRevisions > 0) {
      target = revision - this.p.maxRevisions + 1;
      minStep = Math.max(1, Math.floor(this.p.maxRevisions / 10));
    }
    if (this.p.maxAgeMs > 0) {
      this.samples.push({ atMs: nowMs, revision });
      // The newest sample at least maxAge old is the bound; older ones are no longer needed.
      let i = -1;
      for (let j = 0; j < this.samples.length && (this.samples[j]?.atMs ?? Infinity) <= nowMs - this.p.maxAgeMs; j++)
        i = j;
      if (i >= 0) {
        const bound = this.samples[i]?.revision ?? 0;
        this.samples = this.samples.slice(i);
        if (bound > target) {
          target = bound;
          minStep = 1;
        }
      }
    }
    return target >= compactRevision + minStep && target > 1 ? target : null;
  }
}

export interface AutoCompactTarget {
  isLeader(): boolean;
  revision(): number;
  compactRevision(): number;
  compact(revision: number, signal: AbortSignal): Promise<unknown>;
}

/** Runs a CompactionPolicy on a timer against a node; `stop()` ends it. */
export class AutoCompactor {
  private readonly policy: CompactionPolicy;
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly p: AutoCompaction,
    private readonly target: AutoCompactTarget,
    private readonly onCompacted: (revision: number) => void = () => undefined,
  ) {
    this.policy = new CompactionPolicy(p);
  }

  start(): void {
    if (!this.policy.enabled || this.timer !== null) return;
    this.timer = setInterval(() => this.check(), checkIntervalMs(this.p));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
  }

  private check(): void {
    const t = this.target;
    const rev = this.policy.decide(performance.now(), t.isLeader(), t.revision(), t.compactRevision());
    if (rev === null || this.inFlight) return;
    this.inFlight = true;
    t.compact(rev, this.abort.signal).then(
      () => {
        this.inFlight = false;
        this.onCompacted(rev);
      },
      () => {
        this.inFlight = false; // not leader any more, or stopping: decided again on a later check
      },
    );
  }
}
