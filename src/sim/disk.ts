// The persister of one simulated node (the host's HostStorage), with the real persister's group
// commit (src/storage/persister.ts): a request is written to the node's storage at once (so the
// node and the oracles see its log), joins the queue, and is durable only when a write+fsync batch
// that STARTED after it completes. Requests made while a batch is in flight wait for the next one,
// which takes all of them (many Readies' proposals share one fsync). Exactly what is durable when:
// the copy taken when the batch started (MemStorage.cut), at the instant its fsync completes. A
// crash at any point keeps only that (the real WAL, wal-storage.ts, may also keep a torn prefix of
// the batch in flight), so it loses exactly the batches whose fsync had not completed.
import { assert } from '../util/assert.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import type { Done, HostStorage, PersistRequest, SnapshotData } from '../host/types.ts';
import type { MemStorage, StoredState } from './storage.ts';

/** What the disk needs from the simulated world and the node's process. */
export interface DiskIo {
  /** Runs `fn` after `us` of true time, whatever the process does (the disk works while it is paused). */
  after(us: number, fn: () => void): void;
  /** Runs `fn` in the node's process (queued while paused, dropped after a crash). */
  inProcess(fn: () => void): void;
  fsyncLatencyUs(): number;
  /** A batch without fsync: a write into the page cache. */
  writeLatencyUs(): number;
  /** A log read's latency, or null: the read fails (an I/O error the host must survive). */
  readLatencyUs(): number | null;
  /** Entries written to the log (the log-matching oracle). */
  onWrite(entries: PersistRequest['entries']): void;
}

interface Waiting {
  readonly sync: boolean;
  readonly done: Done;
}

export class SimDisk implements HostStorage {
  private queue: Waiting[] = [];
  private inFlight = false;
  /** Bumped by a crash: completions of batches from before it are ignored. */
  private gen = 0;
  /** Whether a write+fsync batch is in flight (a crash now tears it). */
  get writing(): boolean {
    return this.inFlight;
  }
  /** fsyncs completed (tests check that group commit happens). */
  fsyncs = 0;
  requests = 0;

  constructor(
    private readonly storage: MemStorage,
    private readonly io: DiskIo,
  ) {}

  persist(req: PersistRequest, done: Done): void {
    const st = this.storage;
    if (req.snapshot !== null) {
      const data = req.snapshot.data;
      assert(data instanceof Uint8Array, 'the simulated transport delivers snapshot bytes, never a spool file');
      st.installSnapshot({ meta: req.snapshot.meta, data });
    }
    if (req.entries.length > 0) {
      st.append(req.entries);
      this.io.onWrite(req.entries);
    }
    if (req.hardState !== null) st.setHardState(req.hardState);
    this.enqueue(req.sync, done);
  }

  saveSnapshot(meta: SnapshotMeta, data: Uint8Array, done: Done): void {
    this.storage.compact({ meta, data });
    this.enqueue(true, done);
  }

  loadSnapshot(done: (err: unknown, snap: SnapshotData | null) => void): void {
    const snap = this.storage.current.snapshot;
    const out = snap === null ? null : { meta: snap.meta, data: snap.data };
    const gen = this.gen;
    this.io.after(this.io.writeLatencyUs(), () => {
      if (gen === this.gen) this.io.inProcess(() => done(null, out));
    });
  }

  /**
   * A log read (issue 16): answered after a modelled read latency from what the node's storage
   * holds then (the real WAL's records in wal-storage.ts; compaction meanwhile makes it null), or
   * failed with an I/O error.
   */
  readEntries(lo: number, hi: number, maxBytes: number, done: (err: unknown, entries: Entry[] | null) => void): void {
    const gen = this.gen;
    const us = this.io.readLatencyUs();
    this.io.after(us ?? this.io.writeLatencyUs(), () => {
      if (gen !== this.gen) return;
      const entries = us === null ? null : this.storage.readEntries(lo, hi, maxBytes);
      this.io.inProcess(() => done(us === null ? new Error('simulated read error') : null, entries));
    });
  }

  /** The process died: queued requests and the batch in flight are gone (storage.crash() keeps the durable copy). */
  crash(): void {
    this.gen++;
    this.queue = [];
    this.inFlight = false;
  }

  private enqueue(sync: boolean, done: Done): void {
    this.requests++;
    this.queue.push({ sync, done });
    this.kick();
  }

  private kick(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.inFlight = true;
    const sync = batch.some((w) => w.sync);
    const cut: StoredState | null = sync ? this.storage.cut() : (this.storage.flush(), null);
    const gen = this.gen;
    this.io.after(sync ? this.io.fsyncLatencyUs() : this.io.writeLatencyUs(), () => {
      if (gen !== this.gen) return;
      if (cut !== null) {
        this.storage.syncTo(cut);
        this.fsyncs++;
      }
      this.io.inProcess(() => {
        if (gen !== this.gen) return;
        this.inFlight = false;
        for (const w of batch) w.done(null);
        this.kick();
      });
    });
  }
}
