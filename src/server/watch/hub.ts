// Watch (issue 14): a member's recent change history and its watchers, fed from the state machine
// as it applies entries (KvStateMachine.observer). Any member serves watches from its own applied
// state. Guarantees (docs/api.md, "Watch"): a watcher gets every matching change with a revision at
// or after its start, in revision order, each revision once and whole (all of a transaction's
// events in one batch), or a clear error — never a silent gap.
//
// History: the last changes this member applied, bounded by count of revisions and by bytes; what
// falls out is "compacted" here (a watcher asking for it gets CompactedError and may ask another
// member or re-read). A snapshot installed from the leader skips revisions this member never saw:
// the history restarts after it, and watchers still behind it end with CompactedError.
//
// Watchers: one that starts in the past catches up from the history on demand (nothing is copied
// up front); once caught up it is fed each new revision. What waits to be sent is bounded in bytes
// per watcher: a watcher that falls that far behind (a slow reader) is cut off with
// WatcherTooSlowError instead of holding memory or slowing the apply loop.
import type { ChangeEvent, KeyValue } from '../../kv/machine.ts';
import { assert } from '../../util/assert.ts';

export type { ChangeEvent } from '../../kv/machine.ts';

export interface WatchRequest {
  /** The key, or with `prefix`, the prefix ("" with prefix: every key). */
  readonly key: string;
  readonly prefix: boolean;
  /** First revision wanted; 0: only changes after the current revision. */
  readonly startRevision: number;
  /** Include each event's previous key-value. */
  readonly prevKv: boolean;
}

/** One revision's matching events; no events: a progress notification (everything up to `revision` was sent). */
export interface WatchBatch {
  readonly revision: number;
  readonly events: readonly ChangeEvent[];
}

export interface WatchLimits {
  /** Revisions of history kept. */
  readonly maxHistoryRevisions: number;
  /** Bytes of history kept (approximate: keys and values in UTF-16 units, plus EVENT_OVERHEAD_BYTES per event). */
  readonly maxHistoryBytes: number;
  /** Bytes waiting to be sent to one watcher before it is cut off. */
  readonly maxPendingBytes: number;
  /** Watchers open at once on this member. */
  readonly maxWatchers: number;
  /** An idle watcher gets a progress notification this often. */
  readonly progressIntervalMs: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxHistoryRevisions: 100_000,
  // The history is on the V8 heap: 64 MiB here held ~130 MiB of objects with 100-byte values,
  // more than a million keys take in the store (issue 16).
  maxHistoryBytes: 16 * 1024 * 1024,
  maxPendingBytes: 8 * 1024 * 1024,
  maxWatchers: 10_000,
  progressIntervalMs: 5_000,
};

/** The start revision is older than the history this member holds. */
export class CompactedError extends Error {
  override readonly name = 'CompactedError';
  constructor(
    readonly requested: number,
    /** The oldest revision still available here. */
    readonly oldest: number,
    why = 'has been compacted',
  ) {
    super(`revision ${requested} ${why}; the oldest revision available on this member is ${oldest}`);
  }
}

/** The watcher fell more than maxPendingBytes behind. */
export class WatcherTooSlowError extends Error {
  override readonly name = 'WatcherTooSlowError';
}

export class TooManyWatchersError extends Error {
  override readonly name = 'TooManyWatchersError';
}

interface Held {
  readonly revision: number;
  readonly events: readonly ChangeEvent[];
  readonly bytes: number;
}

/** What an event costs on the heap beyond its strings' characters (the event, kv and prev objects, string headers). */
const EVENT_OVERHEAD_BYTES = 200;
function eventBytes(e: ChangeEvent): number {
  return EVENT_OVERHEAD_BYTES + e.kv.key.length + e.kv.value.length + (e.prev === undefined ? 0 : e.prev.value.length);
}

export class WatchHub {
  /** history[head..] in ascending revision; it holds every change with revision >= oldest. */
  private history: Held[] = [];
  private head = 0;
  private historyBytes = 0;
  private oldestHeld: number;
  private current: number;
  private readonly watchers = new Set<Watcher>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    revision: number,
    readonly limits: WatchLimits = DEFAULT_WATCH_LIMITS,
  ) {
    this.current = revision;
    this.oldestHeld = revision + 1;
    this.timer = setInterval(() => this.progress(), limits.progressIntervalMs);
    this.timer.unref();
  }

  get revision(): number {
    return this.current;
  }

  /** The oldest revision a watcher may start from here. */
  get oldest(): number {
    return this.oldestHeld;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** A command applied at `revision` changed these keys (KvStateMachine.observer). */
  publish(revision: number, events: readonly ChangeEvent[]): void {
    assert(revision > this.current, () => `watch revision ${revision} after ${this.current}`);
    this.current = revision;
    let bytes = 0;
    for (const e of events) bytes += eventBytes(e);
    this.history.push({ revision, events, bytes });
    this.historyBytes += bytes;
    this.trim();
    for (const w of this.watchers) w.offer(revision, events);
  }

  /** The state jumped to `revision` (a snapshot from the leader): changes in between are unknown here. */
  reset(revision: number): void {
    if (revision === this.current) return;
    this.history = [];
    this.head = 0;
    this.historyBytes = 0;
    this.current = revision;
    this.oldestHeld = revision + 1;
    for (const w of this.watchers) w.skipTo(revision);
  }

  /** Opens a watcher; throws CompactedError or TooManyWatchersError. */
  watch(req: WatchRequest): Watcher {
    if (this.watchers.size >= this.limits.maxWatchers)
      throw new TooManyWatchersError(
        `${this.limits.maxWatchers} watchers are open on this member; retry later or use another member`,
      );
    const start = req.startRevision === 0 ? this.current + 1 : req.startRevision;
    if (start < this.oldestHeld) throw new CompactedError(start, this.oldestHeld);
    const w = new Watcher(this, req, start, () => this.watchers.delete(w));
    this.watchers.add(w);
    return w;
  }

  /**
   * For a read at past revision `at` (issue 14): the keys under `prefix` that changed after `at`,
   * each with its state at `at` (null: absent then). Null if the history no longer reaches back to
   * `at` (the caller answers "compacted").
   */
  changesAfter(at: number, prefix: string): Map<string, KeyValue | null> | null {
    if (at + 1 < this.oldestHeld) return null;
    const out = new Map<string, KeyValue | null>();
    const held = this.readFrom(at + 1, Number.POSITIVE_INFINITY) ?? [];
    for (const h of held) {
      for (const e of h.events) {
        // The first change after `at` knows the state at `at`: its previous key-value.
        if (e.kv.key.startsWith(prefix) && !out.has(e.kv.key)) out.set(e.kv.key, e.prev ?? null);
      }
    }
    return out;
  }

  /** Forgets the history before `revision` (a compaction asked for through the log). */
  compact(revision: number): void {
    while (this.history.length - this.head > 0 && (this.history[this.head] as Held).revision < revision) {
      const h = this.history[this.head] as Held;
      this.history[this.head] = undefined as unknown as Held;
      this.head++;
      this.historyBytes -= h.bytes;
    }
    this.oldestHeld = Math.max(this.oldestHeld, Math.min(revision, this.current + 1));
    for (const w of this.watchers) w.compacted(this.oldestHeld);
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of [...this.watchers]) w.fail(new WatcherClosedError('the member is shutting down'));
  }

  /** Held revisions >= `from`, at most `maxBytes` of them (at least one); null if `from` is no longer held. */
  readFrom(from: number, maxBytes: number): Held[] | null {
    if (from < this.oldestHeld) return null;
    let lo = this.head;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.history[mid] as Held).revision < from) lo = mid + 1;
      else hi = mid;
    }
    const out: Held[] = [];
    let bytes = 0;
    for (let i = lo; i < this.history.length && (out.length === 0 || bytes < maxBytes); i++) {
      const h = this.history[i] as Held;
      out.push(h);
      bytes += h.bytes;
    }
    return out;
  }

  private trim(): void {
    const l = this.limits;
    while (
      this.history.length - this.head > l.maxHistoryRevisions ||
      (this.historyBytes > l.maxHistoryBytes && this.history.length - this.head > 1)
    ) {
      const h = this.history[this.head] as Held;
      this.history[this.head] = undefined as unknown as Held;
      this.head++;
      this.historyBytes -= h.bytes;
      this.oldestHeld = h.revision + 1;
    }
    // Drop the consumed front now and then (amortized O(1) per revision).
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }

  private progress(): void {
    for (const w of this.watchers) w.progress(this.current);
  }
}

/** The member is stopping; the client should resume on another member. */
export class WatcherClosedError extends Error {
  override readonly name = 'WatcherClosedError';
}

/**
 * One watch: an async iterator of batches. Ends only by cancel() (the iterator then returns) or
 * an error (CompactedError, WatcherTooSlowError, WatcherClosedError), thrown by the iterator.
 */
export class Watcher implements AsyncIterable<WatchBatch> {
  /** The next revision this watcher has not yet considered. */
  private next: number;
  /** Caught up: fed by publish; otherwise it reads the history when its queue is empty. */
  private synced = false;
  /** Batches waiting for the reader; `bytes` counts toward maxPendingBytes (0 for catch-up from the history, which is held anyway). */
  private readonly queue: { readonly batch: WatchBatch; readonly bytes: number }[] = [];
  private queuedBytes = 0;
  private error: Error | null = null;
  private done = false;
  private wake: (() => void) | null = null;
  private sentSinceProgress = false;

  constructor(
    private readonly hub: WatchHub,
    readonly req: WatchRequest,
    start: number,
    private readonly onEnd: () => void,
  ) {
    this.next = start;
  }

  private matches(key: string): boolean {
    return this.req.prefix ? key.startsWith(this.req.key) : key === this.req.key;
  }

  private filter(events: readonly ChangeEvent[]): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    for (const e of events) {
      if (!this.matches(e.kv.key)) continue;
      out.push(this.req.prevKv || e.prev === undefined ? e : { type: e.type, kv: e.kv });
    }
    return out;
  }

  /** From the hub: a new revision. */
  offer(revision: number, events: readonly ChangeEvent[]): void {
    if (!this.synced || this.done || revision < this.next) return;
    this.next = revision + 1;
    const mine = this.filter(events);
    if (mine.length === 0) return;
    let bytes = 0;
    for (const e of mine) bytes += eventBytes(e);
    if (this.queuedBytes + bytes > this.hub.limits.maxPendingBytes) {
      this.fail(
        new WatcherTooSlowError(
          `watcher fell more than ${this.hub.limits.maxPendingBytes} bytes behind and was cut off; resume from the revision after the last one received`,
        ),
      );
      return;
    }
    this.queue.push({ batch: { revision, events: mine }, bytes });
    this.queuedBytes += bytes;
    this.sentSinceProgress = true;
    this.wakeUp();
  }

  /** From the hub: history before `oldest` is gone; a watcher still reading it cannot go on. */
  compacted(oldest: number): void {
    if (!this.done && !this.synced && this.next < oldest) this.fail(new CompactedError(this.next, oldest));
  }

  /** From the hub: the state jumped to `revision`. */
  skipTo(revision: number): void {
    if (this.done || this.next > revision) return;
    this.fail(
      new CompactedError(this.next, revision + 1, 'was skipped: this member installed a snapshot from the leader'),
    );
  }

  progress(revision: number): void {
    if (this.done || !this.synced || this.queue.length > 0) return;
    if (this.sentSinceProgress) {
      this.sentSinceProgress = false;
      return;
    }
    this.queue.push({ batch: { revision, events: [] }, bytes: 0 });
    this.wakeUp();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.error = err;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.finish();
  }

  cancel(): void {
    if (this.done) return;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.onEnd();
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Fills the queue from the history while not caught up. */
  private catchUp(): void {
    if (this.synced || this.queue.length > 0) return;
    const held = this.hub.readFrom(this.next, this.hub.limits.maxPendingBytes / 2);
    if (held === null) {
      this.fail(new CompactedError(this.next, this.hub.oldest));
      return;
    }
    for (const h of held) {
      this.next = h.revision + 1;
      const mine = this.filter(h.events);
      if (mine.length > 0) this.queue.push({ batch: { revision: h.revision, events: mine }, bytes: 0 });
    }
    if (this.next > this.hub.revision) {
      this.synced = true;
      // Caught up: say so (also the first message of a watch from now — "created at revision R").
      this.queue.push({ batch: { revision: this.hub.revision, events: [] }, bytes: 0 });
      this.sentSinceProgress = true;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    try {
      for (;;) {
        this.catchUp();
        const q = this.queue.shift();
        if (q !== undefined) {
          this.queuedBytes -= q.bytes;
          yield q.batch;
          continue;
        }
        if (this.error !== null) throw this.error;
        if (this.done) return;
        if (!this.synced) continue;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      this.cancel();
    }
  }
}
