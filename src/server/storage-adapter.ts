// The node's view of durable storage: what the drive loop persists, and what it recovers on start.
import { checkDataFormat } from '../storage/data_format.ts';
import { VERSION } from './version.ts';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { Persister, type PersistRequest as StoragePersistRequest } from '../storage/persister.ts';
import type { SnapshotFileLayout } from '../storage/snapshot_file.ts';
import { openSnapshotData, readSnapshotFileAsync } from '../storage/snapshot_read.ts';
import type { SnapshotBody } from '../storage/snapshot_save.ts';
import type { SpooledSnapshotFile } from '../storage/snapshot_spool.ts';
import { assert } from '../util/assert.ts';
import { RESTORE_PIECE_BYTES, type KvStateMachine } from '../kv/machine.ts';

export interface SnapshotData {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** A snapshot received from the leader: its bytes, or its spool file (renamed into place, issue 16). */
export interface ReceivedSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array | SpooledSnapshotFile;
}

export interface PersistRequest {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** A snapshot received from the leader, installed before the entries (Ready contract). */
  readonly snapshot: ReceivedSnapshot | null;
  readonly sync: boolean;
}

export interface NodeStorage {
  /** Durable (fsynced when `sync`) when the promise resolves. Concurrent calls share fsyncs. */
  persist(req: PersistRequest): Promise<void>;
  /**
   * persist() with a callback (null once durable), never called back inside the call: the drive
   * loop's path, no promise per Ready (issue 16). A wrapper (tests) may leave it out: persist is used.
   */
  persistThen?(req: PersistRequest, done: (err: Error | null) => void): void;
  /** Saves a snapshot of the state machine atomically and compacts the log up to it. Takes `data` over: the caller must not use it again. */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  /** As saveSnapshot, the data encoded as it is written (issue 16); takes the body over and releases it. */
  saveSnapshotBody(meta: SnapshotMeta, body: SnapshotBody): Promise<void>;
  loadSnapshot(): Promise<SnapshotData | null>;
  /** Log entries read back from the WAL (Persister.readEntries; issue 16). */
  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null>;
  close(): Promise<void>;
  /** fsync latencies observed since the last call, in ms (for metrics). */
  drainFsyncLatenciesMs(): number[];
}

export interface OpenedStorage {
  readonly storage: NodeStorage;
  readonly fresh: boolean;
  readonly hardState: HardState;
  /** The snapshot file, checked (both checksums' first: the file's CRC32C) but not read: restoreSnapshotFile. */
  readonly snapshot: SnapshotFileLayout | null;
  readonly entries: readonly Entry[];
  readonly repaired: { readonly file: string; readonly offset: number; readonly bytesDropped: number } | null;
}

/** The node's request as the persister's: a received snapshot as its bytes or as its spool file. */
function toStorage(req: PersistRequest): StoragePersistRequest {
  if (req.snapshot === null) return { entries: req.entries, hardState: req.hardState, sync: req.sync };
  const { meta, data } = req.snapshot;
  return {
    entries: req.entries,
    hardState: req.hardState,
    sync: req.sync,
    ...(data instanceof Uint8Array ? { snapshot: { meta, data } } : { receivedFile: { meta, path: data.path } }),
  };
}

/** The WAL in a worker thread behind the group-committing Persister (docs/storage.md). */
class PersisterStorage implements NodeStorage {
  private latencies: number[] = [];
  constructor(
    private persister: Persister | null,
    private readonly dir: string,
  ) {}

  attach(p: Persister): void {
    this.persister = p;
  }

  onSync(fsyncMs: number): void {
    if (this.latencies.length < 10_000) this.latencies.push(fsyncMs);
  }

  private get p(): Persister {
    assert(this.persister !== null, 'storage used before it was opened');
    return this.persister;
  }

  persist(req: PersistRequest): Promise<void> {
    return this.p.persist(toStorage(req));
  }

  persistThen(req: PersistRequest, done: (err: Error | null) => void): void {
    this.p.persistThen(toStorage(req), done);
  }

  /**
   * Written beside the WAL worker, then put in place in order (Persister.saveSnapshot): appends and
   * their fsyncs do not wait behind the ~100 MiB file (issue 13).
   */
  async saveSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    await this.p.saveSnapshot({ meta, data }, { giveBytes: true });
    await this.p.compact(meta.index);
  }

  /**
   * The file is written on this thread through libuv's thread pool, straight from the state
   * machine's frozen pages (no buffer of the snapshot's size, issue 16), then put in place in order.
   */
  async saveSnapshotBody(meta: SnapshotMeta, body: SnapshotBody): Promise<void> {
    await this.p.saveSnapshot({ meta, body });
    await this.p.compact(meta.index);
  }

  /** Read beside the WAL worker, not through it: appends do not wait behind the file (snapshot_read.ts). */
  loadSnapshot(): Promise<SnapshotData | null> {
    return readSnapshotFileAsync(this.dir);
  }

  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null> {
    return this.p.readEntries(lo, hi, maxBytes);
  }

  close(): Promise<void> {
    return this.p.close();
  }

  drainFsyncLatenciesMs(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }
}

export async function openNodeStorage(dir: string): Promise<OpenedStorage> {
  // Before the WAL is opened (which upgrades older folders in place): a newer format is left untouched.
  checkDataFormat(dir, VERSION);
  const storage = new PersisterStorage(null, dir);
  const { persister, state, repaired } = await Persister.open(dir, { onSync: (info) => storage.onSync(info.fsyncMs) });
  storage.attach(persister);
  // Checked by recovery, not read (issue 16): the node restores from the file a piece at a time
  // (start.ts), never from one buffer of its size. Recovery refuses a marker without its file.
  const snapshot = state.snapshotFile;
  assert((snapshot === null) === (state.snapshot === null), 'recovery returned a snapshot without its file');
  const fresh = state.hardState.term === 0 && state.entries.length === 0 && snapshot === null;
  return { storage, fresh, hardState: state.hardState, snapshot, entries: state.entries, repaired };
}

/**
 * Restores `kv` from the snapshot file recovery checked (OpenedStorage.snapshot), read through one
 * buffer a piece at a time (issue 16: a restart read the ~100 MiB file whole and held it until the
 * restore was done). The kv snapshot's CRC32 is checked before its state is swapped in.
 */
export async function restoreSnapshotFile(kv: KvStateMachine, dir: string, file: SnapshotFileLayout): Promise<void> {
  const data = await openSnapshotData(dir, file, RESTORE_PIECE_BYTES);
  try {
    await kv.restoreFromPieces(data.totalBytes, (offset, bytes) => data.read(offset, bytes));
  } finally {
    await data.close();
  }
}
