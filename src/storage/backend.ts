// Where the persister's WAL work runs: in a worker thread over real files (so a slow fsync never
// blocks the main event loop — heartbeats and lease renewal, docs/lease-notes.md case 10), or inline over any
// FileSystem (tests, the simulator). Both run one batch at a time: apply every request in order, then
// one write + one fsync for the whole batch.
import { Worker } from 'node:worker_threads';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import type { FileSystem } from './fs.ts';
import type { Snapshot } from './snapshot_file.ts';
import { realSideFs, sideFsOver, writeSnapshotSide, type SideFs, type SnapshotBody } from './snapshot_save.ts';
import { Wal, type WalOpenResult, type WalOptions } from './wal.ts';
import { packable, packBatch } from './packed_batch.ts';
import { threadMemoryBuffer } from '../util/thread-memory.ts';
import { workerBootCode } from '../util/worker-boot.ts';

export interface PersistRequest {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  /** Installed before the entries (Ready ordering); saved atomically and fsynced on its own. */
  readonly snapshot?: Snapshot;
  /**
   * A snapshot received from the leader, already a whole snapshot file in the data folder (its
   * spool): fsynced and renamed into place in request order (Wal.adoptReceivedSnapshot), as `snapshot`.
   */
  readonly receivedFile?: { readonly meta: SnapshotMeta; readonly path: string };
  /**
   * The node's own snapshot, already written and fsynced beside the WAL by prepareSnapshot: put in
   * place (rename) and recorded here, in request order (Wal.adoptSnapshotFile).
   */
  readonly savedSnapshot?: SnapshotMeta;
  /**
   * Ready.mustSync: false when nothing in the request needs to be durable before messages leave
   * (e.g. only the commit index moved). A batch in which no request needs it skips the fsync; its
   * records stay buffered until the next synced batch. Default true.
   */
  readonly sync?: boolean;
  /**
   * The caller hands the snapshot's bytes over (it will not touch them again): a worker backend
   * moves the buffer to its thread instead of copying it — a large snapshot copy would stall the
   * event loop that renews the lease.
   */
  readonly giveSnapshotBytes?: boolean;
}

export interface BatchResult {
  /** Wall time of the write + fsync of the batch, in ms (0 if nothing needed syncing). */
  readonly fsyncMs: number;
  readonly fsynced: boolean;
}

export type OpenedState = Omit<WalOpenResult, 'wal'>;

/** A batch's completion: `result` when written (and fsynced if it had to be), else the error. */
export type BatchDone = (err: Error | null, result: BatchResult | null) => void;

export interface Backend {
  open(): Promise<OpenedState>;
  writeBatch(reqs: readonly PersistRequest[]): Promise<BatchResult>;
  /** writeBatch with a callback: the persister's hot path makes no promise per batch (issue 16). */
  writeBatchThen(reqs: readonly PersistRequest[], done: BatchDone): void;
  /**
   * Writes the node's own snapshot to its temp file beside the WAL: batches go on meanwhile. A
   * writeBatch with `savedSnapshot` then puts it in place. `give`: as PersistRequest.giveSnapshotBytes.
   */
  prepareSnapshot(snap: Snapshot, give: boolean): Promise<void>;
  /**
   * As prepareSnapshot, the data encoded a batch at a time as it is written (issue 16), on the
   * calling thread (the batches are views of the state machine's pages, which live there) through
   * libuv's thread pool. Takes the body over.
   */
  prepareSnapshotBody(meta: SnapshotMeta, body: SnapshotBody): Promise<void>;
  compact(index: number): Promise<void>;
  /** Wal.readEntries (issue 16: a leader reads entries past its in-memory window back by index). */
  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null>;
  loadSnapshot(): Promise<Snapshot | null>;
  close(): Promise<void>;
}

/** Applies a batch to an open WAL: requests in order, then one sync. Shared by both backends. */
export function applyBatch(wal: Wal, reqs: readonly PersistRequest[], nowMs: () => number): BatchResult {
  for (const r of reqs) {
    if (r.snapshot !== undefined) wal.saveSnapshot(r.snapshot.meta, r.snapshot.data);
    if (r.receivedFile !== undefined) wal.adoptReceivedSnapshot(r.receivedFile.meta, r.receivedFile.path);
    if (r.savedSnapshot !== undefined) wal.adoptSnapshotFile(r.savedSnapshot);
    wal.append(r.entries, r.hardState);
  }
  if (reqs.every((r) => r.sync === false)) return { fsyncMs: 0, fsynced: false };
  const start = nowMs();
  const fsynced = wal.sync();
  return { fsyncMs: nowMs() - start, fsynced };
}

/** Runs the WAL on the calling thread; each call completes on a later macrotask so callers batch. */
export class InlineBackend implements Backend {
  private wal: Wal | null = null;
  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly opts: WalOptions = {},
    private readonly nowMs: () => number = () => performance.now(),
    /** Where prepareSnapshot writes: `fs` itself, one call per macrotask, unless a test wraps it. */
    private readonly sideFs: SideFs = sideFsOver(fs),
  ) {}
  private later<T>(fn: () => T): Promise<T> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        try {
          resolve(fn());
        } catch (e) {
          reject(e);
        }
      }),
    );
  }
  private open_(): Wal {
    if (this.wal === null) throw new Error('InlineBackend: not open');
    return this.wal;
  }
  open(): Promise<OpenedState> {
    return this.later(() => {
      const { wal, state, repaired } = Wal.open(this.fs, this.dir, this.opts);
      this.wal = wal;
      return { state, repaired };
    });
  }
  writeBatch(reqs: readonly PersistRequest[]): Promise<BatchResult> {
    return this.later(() => applyBatch(this.open_(), reqs, this.nowMs));
  }
  writeBatchThen(reqs: readonly PersistRequest[], done: BatchDone): void {
    this.writeBatch(reqs).then(
      (r) => done(null, r),
      (e: unknown) => done(e instanceof Error ? e : new Error(String(e)), null),
    );
  }
  prepareSnapshot(snap: Snapshot): Promise<void> {
    this.open_();
    return writeSnapshotSide(this.sideFs, this.dir, snap.meta, snap.data);
  }
  prepareSnapshotBody(meta: SnapshotMeta, body: SnapshotBody): Promise<void> {
    try {
      this.open_();
    } catch (e) {
      body.release();
      throw e;
    }
    return writeSnapshotSide(this.sideFs, this.dir, meta, body);
  }
  compact(index: number): Promise<void> {
    return this.later(() => void this.open_().compact(index));
  }
  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null> {
    return this.later(() => this.open_().readEntries(lo, hi, maxBytes));
  }
  loadSnapshot(): Promise<Snapshot | null> {
    return this.later(() => this.open_().loadSnapshot());
  }
  close(): Promise<void> {
    return this.later(() => this.wal?.close());
  }
}

type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; file?: string; offset?: number; reason?: string };
    };

/** The WAL worker's young generation (two semi-spaces and the large-object space): see WorkerBackend. */
const WAL_WORKER_YOUNG_GENERATION_MB = 6;

/** Runs the WAL over real files in a worker thread (persist_worker.ts). */
export class WorkerBackend implements Backend {
  private readonly worker: Worker;
  private nextId = 1;
  /** Each call's completion by its id: (null, result) or (error, null). */
  private readonly waiting = new Map<number, (err: Error | null, result: unknown) => void>();
  private dead: Error | null = null;

  constructor(
    private readonly dir: string,
    opts: WalOptions = {},
  ) {
    const boot = workerBootCode(import.meta.url, './persist_worker.ts');
    // A small young generation: the thread allocates little but frames and batches, and V8's default
    // (16 MiB semi-spaces) would let it keep ~32 MiB resident for nothing (docs/storage.md, "Memory").
    this.worker = new Worker(boot, {
      eval: true,
      workerData: { dir, opts, threadMemory: threadMemoryBuffer('wal') },
      resourceLimits: { maxYoungGenerationSizeMb: WAL_WORKER_YOUNG_GENERATION_MB },
    });
    this.worker.on('message', (m: WorkerReply) => this.settle(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`persist worker exited with code ${code}`)));
  }
  private settle(m: WorkerReply): void {
    const w = this.waiting.get(m.id);
    if (w === undefined) return;
    this.waiting.delete(m.id);
    if (m.ok) w(null, m.result);
    else if (m.error.file !== undefined) {
      // A StorageCorruptError, or a subclass (WalCutError, WalSegmentMissingError) whose message has
      // its own advice: still a StorageCorruptError on this side, with that message and name.
      const e = new StorageCorruptError(m.error.file, m.error.offset ?? 0, m.error.reason ?? m.error.message);
      w(Object.assign(e, { message: m.error.message, name: m.error.name }), null);
    } else w(Object.assign(new Error(m.error.message), { name: m.error.name }), null);
  }
  private fail(e: Error): void {
    this.dead ??= e;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w(e, null);
  }
  private call<T>(op: string, arg?: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.callThen(op, arg, transfer, (err, result) => (err === null ? resolve(result as T) : reject(err))),
    );
  }
  /** Posts one message; `done` runs when the worker answers it (or at once, on a later tick, if dead). */
  private callThen(
    op: string,
    arg: unknown,
    transfer: ArrayBuffer[],
    done: (err: Error | null, result: unknown) => void,
  ): void {
    const dead = this.dead;
    if (dead !== null) {
      queueMicrotask(() => done(dead, null));
      return;
    }
    const id = this.nextId++;
    this.waiting.set(id, done);
    this.worker.postMessage({ id, op, arg }, transfer);
  }
  open(): Promise<OpenedState> {
    return this.call('open');
  }
  writeBatch(reqs: readonly PersistRequest[]): Promise<BatchResult> {
    return new Promise((resolve, reject) =>
      this.writeBatchThen(reqs, (err, r) => (err === null && r !== null ? resolve(r) : reject(err))),
    );
  }
  writeBatchThen(reqs: readonly PersistRequest[], done: BatchDone): void {
    const settled = done as (err: Error | null, result: unknown) => void;
    // Entries and hard states only (every batch but a snapshot's): one transferred buffer, no clone
    // of an object per entry on either thread (packed_batch.ts; issue 16, session 14).
    if (reqs.every(packable)) {
      const packed = packBatch(reqs);
      this.callThen('writePacked', packed, [packed], settled);
      return;
    }
    const transfer: ArrayBuffer[] = [];
    for (const r of reqs) {
      const buf = r.snapshot?.data.buffer;
      // Only large buffers: small ones may live in Node's shared Buffer pool, which must not move.
      const big = (r.snapshot?.data.byteLength ?? 0) >= 1 << 20;
      if (r.giveSnapshotBytes === true && big && buf instanceof ArrayBuffer && !transfer.includes(buf))
        transfer.push(buf);
    }
    this.callThen('write', reqs, transfer, settled);
  }
  prepareSnapshot(snap: Snapshot, give: boolean): Promise<void> {
    const buf = snap.data.buffer;
    // Moved, not copied (see writeBatch); the worker writes it without blocking its batches.
    const transfer = give && snap.data.byteLength >= 1 << 20 && buf instanceof ArrayBuffer ? [buf] : [];
    return this.call('prepareSnapshot', snap, transfer);
  }
  prepareSnapshotBody(meta: SnapshotMeta, body: SnapshotBody): Promise<void> {
    if (this.dead !== null) {
      body.release();
      return Promise.reject(this.dead);
    }
    // Here, not in the worker: only the ordered rename (writeBatch, savedSnapshot) is the WAL's.
    return writeSnapshotSide(realSideFs, this.dir, meta, body);
  }
  compact(index: number): Promise<void> {
    return this.call('compact', index);
  }
  readEntries(lo: number, hi: number, maxBytes: number): Promise<Entry[] | null> {
    return this.call('readEntries', { lo, hi, maxBytes });
  }
  loadSnapshot(): Promise<Snapshot | null> {
    return this.call('loadSnapshot');
  }
  async close(): Promise<void> {
    try {
      if (this.dead === null) await this.call('close');
    } finally {
      // Even when closing fails (a full disk fails the last flush too) the worker must go, or it
      // would keep the process alive after the node has stopped.
      this.dead ??= new Error('persister closed');
      await this.worker.terminate();
    }
  }
}
