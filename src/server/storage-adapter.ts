// The node's view of durable storage: what the drive loop persists, and what it recovers on start.
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { RealFs } from '../storage/fs.ts';
import { Wal } from '../storage/wal.ts';

export interface SnapshotData {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export interface PersistRequest {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** A snapshot received from the leader, installed before the entries (Ready contract). */
  readonly snapshot: SnapshotData | null;
  readonly sync: boolean;
}

export interface NodeStorage {
  /** Durable (fsynced when `sync`) when the promise resolves. Concurrent calls share fsyncs. */
  persist(req: PersistRequest): Promise<void>;
  /** Saves a snapshot of the state machine atomically and compacts the log up to it. */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  loadSnapshot(): Promise<SnapshotData | null>;
  close(): Promise<void>;
  /** fsync latencies observed since the last call, in ms (for metrics). */
  drainFsyncLatenciesMs(): number[];
}

export interface OpenedStorage {
  readonly storage: NodeStorage;
  readonly fresh: boolean;
  readonly hardState: HardState;
  readonly snapshot: SnapshotData | null;
  readonly entries: readonly Entry[];
  readonly repaired: { readonly file: string; readonly offset: number; readonly bytesDropped: number } | null;
}

/** The WAL driven from the main thread: write + fsync per persist call. */
class InlineWalStorage implements NodeStorage {
  private latencies: number[] = [];
  constructor(private readonly wal: Wal) {}

  persist(req: PersistRequest): Promise<void> {
    if (req.snapshot !== null) this.wal.saveSnapshot(req.snapshot.meta, req.snapshot.data);
    this.wal.append(req.entries, req.hardState);
    const t0 = performance.now();
    if (req.sync) {
      if (this.wal.sync()) this.latencies.push(performance.now() - t0);
    }
    return Promise.resolve();
  }

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    this.wal.saveSnapshot(meta, data);
    this.wal.compact(meta.index);
    return Promise.resolve();
  }

  loadSnapshot(): Promise<SnapshotData | null> {
    return Promise.resolve(this.wal.loadSnapshot());
  }

  close(): Promise<void> {
    this.wal.close();
    return Promise.resolve();
  }

  drainFsyncLatenciesMs(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
}

export function openNodeStorage(dir: string): OpenedStorage {
  const fs = new RealFs();
  const { wal, state, repaired } = Wal.open(fs, dir);
  const snapshot = state.snapshot === null ? null : wal.loadSnapshot();
  if (state.snapshot !== null && (snapshot === null || snapshot.meta.index !== state.snapshot.index)) {
    throw new Error(`data dir ${dir}: the log refers to snapshot ${state.snapshot.index} but it is missing; wipe this node's data dir and let it rejoin from its peers`);
  }
  const fresh = state.hardState.term === 0 && state.entries.length === 0 && snapshot === null;
  return { storage: new InlineWalStorage(wal), fresh, hardState: state.hardState, snapshot, entries: state.entries, repaired };
}
