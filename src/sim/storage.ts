// In-memory storage for one simulated node that remembers what was fsynced.
// Writes land in `volatile` at once (what the running node has written); `syncTo(cut)` makes a copy
// taken when a write+fsync batch started durable (disk.ts, the persister's group commit, calls it
// when the modelled fsync latency has passed). A crash keeps only `durable`.
import type { Entry, HardState, NodeId, SnapshotMeta } from '../raft/types.ts';

/** A state machine snapshot: the real KV machine's bytes (src/kv/snapshot.ts). */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** One copy of what a node has written. Invariant: entries[0].index === snapshot.meta.index + 1. */
export interface StoredState {
  hardState: HardState;
  snapshot: StoredSnapshot | null;
  entries: Entry[];
}

export function emptyState(): StoredState {
  return { hardState: { term: 0, votedFor: null, commit: 0 }, snapshot: null, entries: [] };
}

export function cloneState(s: StoredState): StoredState {
  return { hardState: s.hardState, snapshot: s.snapshot, entries: s.entries.slice() };
}

export class MemStorage {
  protected volatile: StoredState = emptyState();
  protected durable: StoredState = emptyState();
  /** True when volatile holds writes that a crash would lose. */
  dirty = false;
  /** Log reads served (issue 16) and the entries they returned (tests check the path runs). */
  readonly logReads = { reads: 0, entries: 0 };

  constructor(readonly members: readonly NodeId[]) {}

  /** The state a restarted node sees. */
  get durableState(): Readonly<StoredState> {
    return this.durable;
  }

  /** What the running node has written (durable or not). */
  get current(): Readonly<StoredState> {
    return this.volatile;
  }

  snapshotIndex(): number {
    return this.volatile.snapshot?.meta.index ?? 0;
  }

  /** Index of the last entry (or of the snapshot when the log is empty). */
  lastIndex(): number {
    const last = this.volatile.entries[this.volatile.entries.length - 1];
    return last?.index ?? this.snapshotIndex();
  }

  entry(index: number): Entry | undefined {
    const first = this.snapshotIndex() + 1;
    return this.volatile.entries[index - first];
  }

  /** Entries [lo, hi] as HostStorage.readEntries gives them (null when lo is compacted away). */
  readEntries(lo: number, hi: number, maxBytes: number): Entry[] | null {
    this.logReads.reads++;
    if (lo <= this.snapshotIndex()) return null;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi; i++) {
      const e = this.entry(i);
      if (e === undefined) break;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    this.logReads.entries += out.length;
    return out.length === 0 ? null : out;
  }

  /** The term at `index`, if known (entry or snapshot boundary). */
  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    const snap = this.volatile.snapshot;
    if (snap !== null && index === snap.meta.index) return snap.meta.term;
    return this.entry(index)?.term;
  }

  /** Installs a snapshot received from the leader: it replaces the log it covers. */
  installSnapshot(snap: StoredSnapshot): void {
    const v = this.volatile;
    const keepFrom = snap.meta.index + 1;
    const t = this.termAt(snap.meta.index);
    // Keep the suffix only if it continues the snapshot (Raft §7); otherwise discard the whole log.
    v.entries = t === snap.meta.term ? v.entries.filter((e) => e.index >= keepFrom) : [];
    v.snapshot = snap;
    this.dirty = true;
  }

  /** Appends entries; an entry at an existing index replaces it and everything after it. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const v = this.volatile;
    const first = this.snapshotIndex() + 1;
    const at = entries[0]!.index;
    if (at < first) throw new Error(`sim storage: append at ${at} below first index ${first}`);
    if (at > this.lastIndex() + 1)
      throw new Error(`sim storage: append at ${at} leaves a gap after ${this.lastIndex()}`);
    v.entries.length = at - first;
    for (const e of entries) v.entries.push(e);
    this.dirty = true;
  }

  setHardState(hs: HardState): void {
    this.volatile.hardState = hs;
    this.dirty = true;
  }

  /** Local compaction: the state machine snapshot at `meta.index` replaces the log prefix. */
  compact(snap: StoredSnapshot): void {
    const v = this.volatile;
    if (snap.meta.index <= this.snapshotIndex()) return;
    v.entries = v.entries.filter((e) => e.index > snap.meta.index);
    v.snapshot = snap;
    this.dirty = true;
  }

  /** fsync completed: everything written so far is durable. */
  sync(): void {
    this.flush();
    this.syncTo(cloneState(this.volatile));
  }

  /** A write+fsync batch starts: what it will make durable (disk.ts). */
  cut(): StoredState {
    this.flush();
    return cloneState(this.volatile);
  }

  /** Writes handed over so far go to the file now (the real WAL, wal-storage.ts); nothing to do in memory. */
  flush(): void {}

  /** The batch that started with `cut` is fsynced. */
  syncTo(cut: StoredState): void {
    this.durable = cut;
    this.dirty = false;
  }

  /** The process died: unsynced writes are gone. */
  crash(): void {
    this.volatile = cloneState(this.durable);
    this.dirty = false;
  }
}
