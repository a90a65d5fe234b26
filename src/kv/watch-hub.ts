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
import type { ChangeEvent, KeyValue } from './machine.ts';
import { assert } from '../util/assert.ts';
import { HistoryLog } from './watch-history.ts';
import {
  CompactedError,
  DEFAULT_WATCH_LIMITS,
  eventBytes,
  TooManyWatchersError,
  Watcher,
  WatcherClosedError,
  type Held,
  type WatchLimits,
  type WatchMutant,
  type WatchRequest,
} from './watcher.ts';

export * from './watcher.ts';

/** Calls fn every `ms`; returns the function that stops it. */
export type Ticker = (fn: () => void, ms: number) => () => void;

const intervalTicker: Ticker = (fn, ms) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

export class WatchHub {
  /** In ascending revision, encoded (watch-history.ts); it holds every change with revision >= oldest. */
  private readonly history = new HistoryLog();
  private historyBytes = 0;
  private oldestHeld: number;
  private current: number;
  private readonly watchers = new Set<Watcher>();
  private readonly stopTicker: () => void;

  /**
   * `ticker` calls its function every `ms` until the returned stop function is called (default:
   * an unref'd setInterval; the simulator passes one on virtual time).
   */
  constructor(
    revision: number,
    readonly limits: WatchLimits = DEFAULT_WATCH_LIMITS,
    ticker: Ticker = intervalTicker,
    readonly mutant: WatchMutant | null = null,
  ) {
    this.current = revision;
    this.oldestHeld = revision + 1;
    this.stopTicker = ticker(() => this.progress(), limits.progressIntervalMs);
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
    this.history.push(revision, events, bytes);
    this.historyBytes += bytes;
    this.trim();
    for (const w of this.watchers) w.offer(revision, events);
  }

  /** The state jumped to `revision` (a snapshot from the leader): changes in between are unknown here. */
  reset(revision: number): void {
    if (revision === this.current) return;
    this.history.clear();
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
    let start = req.startRevision === 0 ? this.current + 1 : req.startRevision;
    if (this.mutant === 'watch-duplicate-on-resume' && req.startRevision > 1) start--;
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
    const h = this.history;
    const want = (key: string): boolean => key.startsWith(prefix) && !out.has(key);
    for (let i = this.firstFrom(at + 1); i < h.length; i++) {
      // The first change after `at` knows the state at `at`: its previous key-value.
      for (const e of h.events(i, want)) if (!out.has(e.kv.key)) out.set(e.kv.key, e.prev ?? null);
    }
    return out;
  }

  /** Forgets the history before `revision` (a compaction asked for through the log). */
  compact(revision: number): void {
    const h = this.history;
    let n = 0;
    while (n < h.length && h.revision(n) < revision) this.historyBytes -= h.bytes(n++);
    if (n > 0) h.dropFront(n);
    this.oldestHeld = Math.max(this.oldestHeld, Math.min(revision, this.current + 1));
    for (const w of this.watchers) w.compacted(this.oldestHeld);
  }

  close(): void {
    this.stopTicker();
    for (const w of [...this.watchers]) w.fail(new WatcherClosedError('the member is shutting down'));
  }

  /** Held revisions >= `from`, at most `maxBytes` of them (at least one); null if `from` is no longer held. */
  readFrom(from: number, maxBytes: number): Held[] | null {
    if (from < this.oldestHeld) return null;
    const h = this.history;
    const out: Held[] = [];
    let bytes = 0;
    for (let i = this.firstFrom(from); i < h.length && (out.length === 0 || bytes < maxBytes); i++) {
      out.push({ revision: h.revision(i), events: h.events(i), bytes: h.bytes(i) });
      bytes += h.bytes(i);
    }
    return out;
  }

  /** Position in the history of the first revision >= `from` (its length if none). */
  private firstFrom(from: number): number {
    const h = this.history;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (h.revision(mid) < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private trim(): void {
    const l = this.limits;
    const h = this.history;
    let n = 0;
    while (h.length - n > l.maxHistoryRevisions || (this.historyBytes > l.maxHistoryBytes && h.length - n > 1)) {
      this.historyBytes -= h.bytes(n);
      this.oldestHeld = h.revision(n) + 1;
      n++;
    }
    if (n > 0) h.dropFront(n);
  }

  private progress(): void {
    for (const w of this.watchers) w.progress(this.current);
  }
}
