// The server-side durable-storage front: persist() resolves once the request is fsynced, with GROUP
// COMMIT — requests arriving while a write+fsync is in flight are gathered into the next batch, so
// many appends share one fsync (issue 4: an fsync costs ~0.5 ms here). By default the WAL runs in a
// worker thread so the main event loop (heartbeats, lease renewal) never waits behind a slow fsync
// (docs/lease-notes.md case 10). Promises resolve in request order (batches are strictly sequential).
import type { Entry } from '../raft/types.ts';
import type { FileSystem } from './fs.ts';
import {
  InlineBackend,
  WorkerBackend,
  type Backend,
  type BatchResult,
  type OpenedState,
  type PersistRequest,
} from './backend.ts';
import type { Snapshot } from './snapshot_file.ts';
import type { SideFs, SnapshotBody } from './snapshot_save.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import type { WalOptions } from './wal.ts';

export type { PersistRequest } from './backend.ts';

export interface SyncInfo {
  readonly fsyncMs: number;
  /** persist() calls this fsync made durable. */
  readonly requests: number;
  readonly entries: number;
}

export interface PersisterOptions extends WalOptions {
  /** Most requests in one write+fsync batch (a bound on batch memory and latency). */
  readonly maxBatchRequests?: number;
  /** Called after every batch that issued an fsync: feed a latency histogram from it. */
  readonly onSync?: (info: SyncInfo) => void;
}

export interface InlineOptions extends PersisterOptions {
  /** Where saveSnapshot writes its file beside the WAL (default: the FileSystem itself). */
  readonly sideFs?: SideFs;
}

/** The node's own snapshot encoded as it is written (issue 16): the body is taken over and released. */
export interface SnapshotFromBody {
  readonly meta: SnapshotMeta;
  readonly body: SnapshotBody;
}

export interface PersisterStats {
  persists: number;
  batches: number;
  fsyncs: number;
}

/** A persist failed (disk error): the node must stop — a failed fsync cannot be retried safely. */
export class PersisterFailedError extends Error {
  override readonly name = 'PersisterFailedError';
}

/** A persist's completion: null once durable, else why it never will be. */
export type PersistDone = (err: Error | null) => void;

interface Waiter {
  readonly req: PersistRequest;
  readonly done: PersistDone;
}

export const DEFAULT_MAX_BATCH_REQUESTS = 1024;

export class Persister {
  readonly stats: PersisterStats = { persists: 0, batches: 0, fsyncs: 0 };
  private queue: Waiter[] = [];
  private inFlight = false;
  private failed: Error | null = null;
  /** The snapshot save in progress (its file being written beside the WAL), if any. */
  private saving: Promise<void> | null = null;
  private readonly maxBatchRequests: number;

  private constructor(
    private readonly backend: Backend,
    private readonly opts: PersisterOptions,
  ) {
    this.maxBatchRequests = opts.maxBatchRequests ?? DEFAULT_MAX_BATCH_REQUESTS;
    if (!(
      Number.isInteger(this.maxBatchRequests) &&
      this.maxBatchRequests >= 1 &&
      this.maxBatchRequests <= 1_000_000
    )) {
      throw new RangeError(`maxBatchRequests must be an integer in [1, 1000000], got ${this.maxBatchRequests}`);
    }
  }

  /** Opens `dir` over real files, the WAL running in a worker thread. Rejects with StorageCorruptError. */
  static open(dir: string, opts: PersisterOptions = {}): Promise<OpenedState & { persister: Persister }> {
    return Persister.start(new WorkerBackend(dir, walOpts(opts)), opts);
  }

  /** Opens `dir` on `fs` with the WAL on this thread (tests; the simulator with FaultyFs). */
  static openInline(
    fs: FileSystem,
    dir: string,
    opts: InlineOptions = {},
  ): Promise<OpenedState & { persister: Persister }> {
    const backend = new InlineBackend(fs, dir, walOpts(opts), undefined, opts.sideFs);
    return Persister.start(backend, opts);
  }

  private static async start(
    backend: Backend,
    opts: PersisterOptions,
  ): Promise<OpenedState & { persister: Persister }> {
    try {
      const opened = await backend.open();
      return { ...opened, persister: new Persister(backend, opts) };
    } catch (e) {
      await backend.close().catch(() => undefined);
      throw e;
    }
  }

  /** Resolves once `req` (snapshot, then entries, then hard state) is durable. */
  persist(req: PersistRequest): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.persistThen(req, (err) => (err === null ? resolve() : reject(err))),
    );
  }

  /**
   * persist() with a callback, the drive loop's hot path (issue 16, session 14): no promise and no
   * microtask per request. `done` runs once, never inside this call: with null from the worker's
   * answer once `req` is durable, or with the error on a later microtask.
   */
  persistThen(req: PersistRequest, done: PersistDone): void {
    const failed = this.failed;
    if (failed !== null) {
      queueMicrotask(() => done(failed));
      return;
    }
    this.stats.persists++;
    this.queue.push({ req, done });
    if (!this.inFlight) this.drain();
  }

  /**
   * Saves the node's own snapshot: its file is written and fsynced beside the WAL — persists go on
   * meanwhile, each with its fsync — then put in place and recorded in order after every persist
   * made before that (docs/storage.md, "Write path and fsync rules"). Resolves once durable. One
   * save at a time. A failed write fails the persister for good, like a failed persist.
   */
  saveSnapshot(snap: Snapshot | SnapshotFromBody, opts: { readonly giveBytes?: boolean } = {}): Promise<void> {
    const refused =
      this.failed ?? (this.saving === null ? null : new Error('Persister.saveSnapshot: a save is in progress'));
    if (refused !== null) {
      if ('body' in snap) snap.body.release();
      return Promise.reject(refused);
    }
    const saving = (async () => {
      try {
        if ('body' in snap) await this.backend.prepareSnapshotBody(snap.meta, snap.body);
        else await this.backend.prepareSnapshot(snap, opts.giveBytes === true);
      } catch (e) {
        // The save's own rejection first: the node then names the snapshot as the cause, not a
        // persist that was refused because of it.
        const failed = this.fail(e, { queueLater: true });
        throw failed;
      }
      await this.persist({ entries: [], hardState: null, savedSnapshot: snap.meta });
    })();
    this.saving = saving;
    void saving.then(
      () => (this.saving = null),
      () => (this.saving = null),
    );
    return saving;
  }

  /** Deletes WAL segments covered by the saved snapshot (after earlier persists are durable). */
  async compact(index: number): Promise<void> {
    await this.idle();
    return this.backend.compact(index);
  }

  /**
   * Entries [lo, hi] (at most maxBytes of data, at least one) read back from the WAL, or null when
   * compacted away (Wal.readEntries). Not ordered with persists: ask only for entries already durable.
   */
  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null> {
    if (this.failed !== null) return Promise.reject(this.failed);
    return this.backend.readEntries(lo, hi, maxBytes);
  }

  loadSnapshot(): Promise<Snapshot | null> {
    return this.backend.loadSnapshot();
  }

  async close(): Promise<void> {
    await this.saving?.catch(() => undefined);
    await this.idle();
    await this.backend.close();
  }

  /** Waits until everything queued so far is durable (or failed). */
  private async idle(): Promise<void> {
    if (this.queue.length === 0 && !this.inFlight) return;
    await this.persist({ entries: [], hardState: null }).catch(() => undefined);
  }

  /** Fails the persister for good: queued persists are refused (their records may never be written). */
  private fail(e: unknown, opts: { readonly queueLater?: boolean } = {}): Error {
    const failed = (this.failed ??= new PersisterFailedError(
      `persist failed; stop this node: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    ));
    const refuse = (): void => {
      const refused = this.queue;
      this.queue = [];
      // As a rejected promise would: the callers hear of it on a later microtask, not inside fail().
      for (const w of refused) queueMicrotask(() => w.done(failed));
    };
    if (opts.queueLater === true) setImmediate(refuse);
    else refuse();
    return failed;
  }

  /** Hands the queued requests (up to the bound) to the backend as one batch, if any and not failed. */
  private drain(): void {
    if (this.queue.length === 0 || this.failed !== null) {
      this.inFlight = false;
      return;
    }
    this.inFlight = true;
    const batch = this.queue.splice(0, this.maxBatchRequests);
    const reqs: PersistRequest[] = [];
    for (const w of batch) reqs.push(w.req);
    this.backend.writeBatchThen(reqs, (err, result) => this.written(batch, err, result));
  }

  /** A batch is durable (or failed): the next one goes to the backend, then these requests complete. */
  private written(batch: Waiter[], err: Error | null, result: BatchResult | null): void {
    if (err !== null || result === null) {
      this.queue = [...batch, ...this.queue];
      this.fail(err ?? new Error('persist batch failed'));
      this.inFlight = false;
      return;
    }
    this.stats.batches++;
    if (result.fsynced) {
      this.stats.fsyncs++;
      this.opts.onSync?.({
        fsyncMs: result.fsyncMs,
        requests: batch.length,
        entries: batch.reduce((n, w) => n + w.req.entries.length, 0),
      });
    }
    // Requests queued meanwhile are on their way before these complete (their acknowledgements).
    this.drain();
    for (const w of batch) w.done(null);
  }
}

function walOpts(opts: PersisterOptions): WalOptions {
  return opts.segmentSizeBytes === undefined ? {} : { segmentSizeBytes: opts.segmentSizeBytes };
}
