// The Raft log: a snapshot point followed by entries, plus the markers that drive Ready.
//
// Issue 16: the log past the snapshot lives on disk (the host's WAL); the core keeps the data of a
// bounded window only. Entries that are applied AND stable may be trimmed from memory (trimWindow):
// their terms stay known (run-length pairs, terms change rarely), their data does not — a leader
// that must send them asks the host to read them back (Ready.logReads, replication.ts).
//
// Invariants (asserted where they could break):
//   snapIndex <= applied <= committed <= lastIndex      (applied = handed out in committedEntries)
//   snapIndex < dataStart <= min(applied, stabled) + 1  (everything trimmed is applied and stable)
//   entries[i].index === dataStart + i, terms never decrease
//   trimmed: runs of (first index, term) covering (snapIndex, dataStart), ascending
//   stabled <= lastIndex: every entry at or below `stabled` has been persisted by the host.
import { AssertionError, assert } from '../util/assert.ts';
import { ConfHistory } from './confchange.ts';
import { EntryType } from './types.ts';
import type { ConfState, Entry, SnapshotMeta } from './types.ts';

/**
 * What one entry in memory is counted as against the window: its data plus an estimate of the
 * objects around it (the Entry, its Uint8Array) — so a window of tiny entries is bounded too.
 */
export const ENTRY_OVERHEAD_BYTES = 128;

/** A run of trimmed entries with one term: indices [index, next run's index) have `term`. */
interface TermRun {
  readonly index: number;
  readonly term: number;
}

export function entryWindowBytes(e: Entry): number {
  return e.data.length + ENTRY_OVERHEAD_BYTES;
}

export class RaftLog {
  private snapIndex = 0;
  private snapTerm = 0;
  /** Index of entries[0]: everything in (snapIndex, dataStart) was trimmed (terms in `trimmed`). */
  private dataStart = 1;
  private trimmed: TermRun[] = [];
  private entries: Entry[] = [];
  /** Sum of entryWindowBytes over `entries`. */
  private windowBytes = 0;
  /** Latest snapshot this node holds (taken locally via compact or installed from the leader). */
  snapshot: SnapshotMeta | null = null;
  committed = 0;
  /** Highest index handed to the host in Ready.committedEntries (or covered by a snapshot). */
  applied = 0;
  /** Highest index the host has persisted (advance() moves it). */
  stabled = 0;
  /**
   * Highest index handed to the host in a Ready and perhaps not yet persisted (>= stabled while
   * Readies are in flight). Entries above it go in the next Ready.
   */
  inProgress = 0;
  /** The configurations in this log (the last one is in force: single-server changes). */
  readonly conf: ConfHistory;

  /** `bootstrap`: the configuration before any ConfChange entry, when no snapshot gives one. */
  constructor(bootstrap: ConfState) {
    this.conf = new ConfHistory(0, bootstrap);
  }

  static restore(
    snapshot: SnapshotMeta | null,
    entries: readonly Entry[],
    commit: number,
    bootstrap: ConfState,
  ): RaftLog {
    const log = new RaftLog(bootstrap);
    if (snapshot !== null) {
      log.snapIndex = snapshot.index;
      log.snapTerm = snapshot.term;
      log.snapshot = snapshot;
      log.conf.reset(snapshot.index, snapshot.confState);
    }
    let expect = log.snapIndex + 1;
    let term = log.snapTerm;
    for (const e of entries) {
      assert(e.index === expect && e.term >= term, () => `restored entries not contiguous at ${e.index}`);
      expect++;
      term = e.term;
      if (e.type === EntryType.ConfChange) log.conf.onAppend(e.index, e.data);
    }
    log.entries = entries.slice();
    log.dataStart = log.snapIndex + 1;
    for (const e of entries) log.windowBytes += entryWindowBytes(e);
    log.stabled = log.lastIndex();
    log.inProgress = log.stabled;
    log.applied = log.snapIndex;
    // The commit index is only a lower bound of what is committed (volatile in Raft Figure 2), and
    // a commit-only hardState write is not fsynced: clamp it rather than trust it past the log.
    log.committed = Math.max(log.snapIndex, Math.min(commit, log.lastIndex()));
    return log;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.dataStart - 1 + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined) return last.term;
    const run = this.trimmed[this.trimmed.length - 1];
    return run === undefined ? this.snapTerm : run.term;
  }

  /** The first index whose data is in memory (entries below it, down to firstIndex(), are on disk only). */
  firstInMemory(): number {
    return this.dataStart;
  }

  /** Bytes the in-memory entries count for against the window (entryWindowBytes). */
  inMemoryBytes(): number {
    return this.windowBytes;
  }

  /** Term of the entry at `index`, or null when compacted away or beyond the end. */
  term(index: number): number | null {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return null;
    if (index < this.dataStart) return this.trimmedTerm(index);
    return this.entryAt(index).term;
  }

  /** Term of a trimmed index in (snapIndex, dataStart): the last run starting at or below it. */
  private trimmedTerm(index: number): number {
    const runs = this.trimmed;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((runs[mid] as TermRun).index <= index) lo = mid;
      else hi = mid - 1;
    }
    const run = runs[lo];
    if (run === undefined || run.index > index) throw new AssertionError(`no term for trimmed index ${index}`);
    return run.term;
  }

  /** The entry at `index`, which must be in memory (firstInMemory() <= index <= lastIndex()). */
  entryAt(index: number): Entry {
    const e = this.entries[index - this.dataStart];
    if (e === undefined || e.index !== index) throw new AssertionError(`no entry at ${index}`);
    return e;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Leader append. */
  append(e: Entry): void {
    assert(e.index === this.lastIndex() + 1 && e.term >= this.lastTerm(), () => `append out of order at ${e.index}`);
    this.entries.push(e);
    this.windowBytes += entryWindowBytes(e);
    if (e.type === EntryType.ConfChange) this.conf.onAppend(e.index, e.data);
  }

  /**
   * Follower: entries that follow (prev, prevTerm) in the leader's log. Returns the last index now
   * known to match, or null when prev does not match (the leader must back up).
   * Entries at or below `committed` are never rewritten (Leader Completeness makes them identical).
   */
  maybeAppend(prev: number, prevTerm: number, ents: readonly Entry[]): number | null {
    if (prev < this.committed) {
      const skip = this.committed - prev;
      if (skip >= ents.length) return this.committed;
      ents = ents.slice(skip);
      prev = this.committed;
      prevTerm = this.term(prev) ?? -1;
    }
    if (!this.matchTerm(prev, prevTerm)) return null;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      const have = this.term(e.index);
      if (have === e.term) continue;
      if (have !== null) this.truncateFrom(e.index);
      for (let j = i; j < ents.length; j++) {
        const n = ents[j] as Entry;
        this.entries.push(n);
        this.windowBytes += entryWindowBytes(n);
        if (n.type === EntryType.ConfChange) this.conf.onAppend(n.index, n.data);
      }
      break;
    }
    return prev + ents.length;
  }

  private truncateFrom(index: number): void {
    assert(index > this.committed, () => `truncating committed entry ${index} (commit ${this.committed})`);
    // index > committed >= applied >= dataStart - 1: what is cut off is all in memory.
    for (let i = index - this.dataStart; i < this.entries.length; i++)
      this.windowBytes -= entryWindowBytes(this.entries[i] as Entry);
    this.entries.length = index - this.dataStart;
    this.stabled = Math.min(this.stabled, index - 1);
    this.inProgress = Math.min(this.inProgress, index - 1);
    // An uncommitted configuration change that is cut off is no longer in force (thesis §4.1).
    this.conf.truncateFrom(index);
  }

  /** Fast backtracking hint for a rejected (prev, prevTerm) (Raft §5.3, the paper's optimization). */
  conflictHint(prev: number): { index: number; term: number } {
    if (prev > this.lastIndex()) return { index: this.lastIndex() + 1, term: 0 };
    const t = this.term(prev) ?? 0;
    let i = prev;
    while (i - 1 > this.snapIndex && this.term(i - 1) === t) i--;
    return { index: i, term: t };
  }

  /** Leader: last index holding `term`, or 0 when the log has none (for the backtracking hint). */
  lastIndexOfTerm(term: number): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as Entry;
      if (e.term === term) return e.index;
      if (e.term < term) return 0;
    }
    for (let r = this.trimmed.length - 1; r >= 0; r--) {
      const run = this.trimmed[r] as TermRun;
      const end = r + 1 < this.trimmed.length ? (this.trimmed[r + 1] as TermRun).index - 1 : this.dataStart - 1;
      if (run.term === term) return end;
      if (run.term < term) return 0;
    }
    return 0;
  }

  /** Entries in [lo, last], at most maxEntries and maxBytes (but always at least one). */
  slice(lo: number, maxEntries: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= this.lastIndex() && out.length < maxEntries; i++) {
      const e = this.entryAt(i);
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Entries not yet handed to the host for persistence. */
  unstableEntries(): Entry[] {
    return this.entries.slice(Math.max(this.stabled, this.inProgress) + 1 - this.dataStart);
  }

  /** Committed entries not yet handed to the host. */
  nextCommitted(): Entry[] {
    if (this.committed <= this.applied) return [];
    return this.entries.slice(this.applied + 1 - this.dataStart, this.committed + 1 - this.dataStart);
  }

  /**
   * Drops from memory the data of the oldest entries that are applied and stable, while the window
   * holds more than `maxBytes` (entryWindowBytes). Trims only once the window is a quarter over, down
   * to `maxBytes`, so that the copy of what stays is paid once per quarter-window of new entries.
   * Returns the number of entries trimmed.
   */
  trimWindow(maxBytes: number): number {
    if (this.windowBytes <= maxBytes + (maxBytes >> 2)) return 0;
    const limit = Math.min(this.applied, this.stabled);
    let k = 0;
    let bytes = this.windowBytes;
    for (; k < this.entries.length && bytes > maxBytes; k++) {
      const e = this.entries[k] as Entry;
      if (e.index > limit) break;
      bytes -= entryWindowBytes(e);
      const run = this.trimmed[this.trimmed.length - 1];
      if (run === undefined || run.term !== e.term) this.trimmed.push({ index: e.index, term: e.term });
    }
    if (k === 0) return 0;
    this.entries = this.entries.slice(k);
    this.windowBytes = bytes;
    this.dataStart += k;
    return k;
  }

  commitTo(index: number): void {
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    if (index > this.committed) this.committed = index;
  }

  /** The host took a snapshot at `index` (<= applied): drop the prefix. */
  compact(index: number): void {
    assert(index <= this.applied && index <= this.stabled, () => `compact(${index}) beyond applied ${this.applied}`);
    if (index <= this.snapIndex) return;
    const term = this.term(index);
    assert(term !== null, () => `compact(${index}): no such entry`);
    const confState = this.conf.at(index);
    if (index < this.dataStart) {
      // Only trimmed indices go: keep the runs above `index` (the one holding index+1 starts there).
      const runs = this.trimmed.filter((r) => r.index > index);
      if (index + 1 < this.dataStart && (runs[0] === undefined || runs[0].index > index + 1))
        runs.unshift({ index: index + 1, term: this.trimmedTerm(index + 1) });
      this.trimmed = runs;
    } else {
      const k = index + 1 - this.dataStart;
      for (let i = 0; i < k; i++) this.windowBytes -= entryWindowBytes(this.entries[i] as Entry);
      this.entries = this.entries.slice(k);
      this.dataStart = index + 1;
      this.trimmed = [];
    }
    this.snapIndex = index;
    this.snapTerm = term;
    this.snapshot = { index, term, confState };
    this.conf.compact(index);
  }

  /** Follower installs the leader's snapshot: the whole log is replaced. */
  installSnapshot(meta: SnapshotMeta): void {
    assert(meta.index > this.committed, 'installing a snapshot behind commit');
    this.entries = [];
    this.windowBytes = 0;
    this.trimmed = [];
    this.dataStart = meta.index + 1;
    this.snapIndex = meta.index;
    this.snapTerm = meta.term;
    this.snapshot = meta;
    this.committed = meta.index;
    this.applied = meta.index;
    this.stabled = meta.index;
    this.inProgress = meta.index;
    this.conf.reset(meta.index, meta.confState);
  }
}
