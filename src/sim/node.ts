// One simulated node process running the REAL host (src/host: the drive loop, snapshots, client
// requests with sessions) and the REAL key-value state machine (src/kv), wired to simulated parts:
// its drifting clock and timers on virtual time (clock.ts), its disk with the persister's group
// commit (disk.ts over storage.ts or the real WAL, wal-storage.ts) and the simulated transport
// (transport.ts). A paused process runs nothing (what arrives waits in its inbox, like a socket
// buffer; the disk and the clock go on); a crashed one loses its process state and unsynced writes.
import type { RaftConfig } from '../raft/config.ts';
import type { ConfChange, ConfState, Entry, NodeId, RaftEvent } from '../raft/types.ts';
import { KvStateMachine, type ApplyResult, type ChangeEvent } from '../kv/machine.ts';
import { DEFAULT_WATCH_LIMITS, WatchHub, type WatchMutant } from '../kv/watch-hub.ts';
import { HostNode } from '../host/requests.ts';
import type { HostClock, HostLog, HostMutant, HostParts, KvSlicer } from '../host/index.ts';
import type { NodeClock } from './clock.ts';
import type { ClientRequest, ClientResponse } from './events.ts';
import { SimDisk } from './disk.ts';
import { everyMs, SimError } from './node-parts.ts';
import type { MemStorage } from './storage.ts';
import { SimTransport, type Wire, type WireEnd } from './transport.ts';

/** What a node process can see of the simulated world. */
export interface NodeWorld {
  readonly nowUs: number;
  /** Runs `fn` after `us` of true time (0: later in the same instant, after what is queued). */
  after(us: number, fn: () => void): void;
  readonly wire: Wire;
  fsyncLatencyUs(): number;
  /** Page-cache writes, snapshot reads, and encoding/decoding the state machine. */
  cpuLatencyUs(): number;
  /** A log read's latency (issue 16: Ready.logReads), or null: the read fails (an I/O error). */
  logReadLatencyUs(): number | null;
  raftConfig(id: NodeId): RaftConfig;
  random(id: NodeId): () => number;
  readonly hostMutant: HostMutant | null;
  readonly watchMutant: WatchMutant | null;
  reply(resp: ClientResponse): void;
  observeWrite(node: NodeId, entries: readonly Entry[]): void;
  observeApply(node: NodeId, e: Entry, result: ApplyResult | null, effective: boolean): void;
  observeEvents(node: NodeId, events: readonly RaftEvent[]): void;
  observeLeaseRead(node: NodeId, commitIndex: number): void;
  /** A node's state machine applied a revision (what its watch hub is fed). */
  observeChanges(node: NodeId, revision: number, events: readonly ChangeEvent[]): void;
  fail(node: NodeId, what: string): void;
}

/** Bound on queued inputs while paused; beyond it the "socket buffer" overflows (drops). */
const INBOX_LIMIT = 20_000;
/** Snapshot every this many applied entries (small, so compaction and snapshot transfers happen). */
const SNAPSHOT_EVERY = 64;

/** Progress notifications to idle watchers (the server's default is 5 s; runs here last seconds). */
const WATCH_PROGRESS_MS = 250;

const SILENT: HostLog = { info() {}, warn() {}, error() {}, fatal() {} };

export { SimError } from './node-parts.ts';

/** The real host with the simulator's errors, observers and operator actions. */
class SimHost extends HostNode {
  private lastRevision: number;

  constructor(
    parts: HostParts,
    private readonly node: SimNode,
  ) {
    super(parts);
    this.lastRevision = parts.kv.revision;
  }

  protected override notLeader(hint: string | null): SimError {
    return new SimError('not-leader', hint ?? this.core.status(this.now()).leader);
  }
  protected override writeLost(): SimError {
    return new SimError('lost');
  }
  protected override outcomeUnknown(): SimError {
    return new SimError('unknown');
  }
  protected override unavailable(): SimError {
    return new SimError('unavailable');
  }
  protected override onRaftEvents(events: readonly RaftEvent[]): void {
    this.node.world.observeEvents(this.node.id, events);
  }
  protected override onApplied(e: Entry, result: ApplyResult | null): void {
    // Effective: the command changed the state (a new revision), i.e. it was not answered from its session.
    const effective = this.kv.revision > this.lastRevision;
    this.lastRevision = this.kv.revision;
    this.node.world.observeApply(this.node.id, e, result, effective);
  }
  protected override onSnapshotInstalled(): void {
    this.lastRevision = this.kv.revision;
    this.node.hub?.reset(this.kv.revision);
  }
  protected override onLeaseRead(index: number): void {
    this.node.world.observeLeaseRead(this.node.id, index);
  }
  protected override onFatal(err: unknown): void {
    this.node.world.fail(this.node.id, `storage error: ${String(err)}`);
  }

  /** The operator's commands (what src/server/node-membership.ts does for the API). */
  transfer(target: NodeId): void {
    this.core.transferLeadership(target, this.now());
    this.schedule();
  }
  changeConf(cc: ConfChange): boolean {
    const ok = this.core.proposeConfChange(cc, this.now()).ok;
    this.schedule();
    return ok;
  }
  /** The clock's rate changed: drive now, so the timer is armed on the new rate. */
  poke(): void {
    this.schedule();
  }
  isLeaseValid(): boolean {
    return this.core.isLeaseValid(this.now());
  }
  confState(): ConfState {
    return this.core.confState();
  }
  confCommitted(): boolean {
    return this.core.status(this.now()).confCommitted;
  }
  status() {
    return this.core.status(this.now());
  }
  lastIndex(): number {
    return this.core.status(this.now()).lastIndex;
  }
  get state(): KvStateMachine {
    return this.kv;
  }
  /** The server's TtlKeepAlive (src/server/node.ts): confirmed leadership, counting, then a restart in full. */
  ttlKeepAlive(id: number, done: (err: SimError | null) => void): void {
    this.readBarrier((err) => {
      if (err !== null) return done(err instanceof SimError ? err : new SimError('unknown'));
      if (!this.ttlCountdowns.active) return done(new SimError('unavailable'));
      const ttlMs = this.kv.ttlOf(id);
      if (ttlMs === undefined || !this.ttlCountdowns.keepAlive(id, ttlMs, this.now()))
        return done(new SimError('not-found'));
      done(null);
    });
  }
}

export class SimNode implements WireEnd {
  host: SimHost | null = null;
  /** The member's watch hub (the real one, src/kv/watch-hub.ts), fed as the server feeds it. */
  hub: WatchHub | null = null;
  paused = false;
  readonly transport: SimTransport;
  private disk: SimDisk;
  /** Bumped on crash: timers and deferred work of a dead process do nothing. */
  private epoch = 0;
  private inbox: (() => void)[] = [];

  constructor(
    readonly id: NodeId,
    readonly clock: NodeClock,
    public storage: MemStorage,
    readonly world: NodeWorld,
  ) {
    this.transport = new SimTransport(id, world.wire);
    this.disk = this.makeDisk();
  }

  get up(): boolean {
    return this.host !== null;
  }

  nowMs(): number {
    return this.clock.localMs(this.world.nowUs);
  }

  /** Runs `fn` in this process: at once, queued while paused, dropped while down. */
  inProcess(fn: () => void): void {
    if (this.host === null) return;
    if (this.paused) {
      if (this.inbox.length < INBOX_LIMIT) this.inbox.push(fn);
      return;
    }
    fn();
  }

  /** Whether the node's disk has a write+fsync batch in flight. */
  get diskWriting(): boolean {
    return this.up && this.disk.writing;
  }
  /** The disk is replaced (a wiped node rejoining: mutant rejoin-with-empty-disk). */
  replaceStorage(storage: MemStorage): void {
    this.storage = storage;
    this.disk = this.makeDisk();
  }

  start(): void {
    const durable = this.storage.durableState;
    const fresh = durable.hardState.term === 0 && durable.entries.length === 0 && durable.snapshot === null;
    const kv = new KvStateMachine();
    if (durable.snapshot !== null) kv.restore(durable.snapshot.data);
    const epoch = ++this.epoch;
    const hub = new WatchHub(
      kv.revision,
      { ...DEFAULT_WATCH_LIMITS, progressIntervalMs: WATCH_PROGRESS_MS },
      (fn, ms) =>
        everyMs(
          this.clock,
          this.world,
          () => this.epoch === epoch,
          (f) => this.inProcess(f),
          fn,
          ms,
        ),
      this.world.watchMutant,
    );
    this.hub = hub;
    kv.observer = (revision, events) => {
      hub.publish(revision, events);
      this.world.observeChanges(this.id, revision, events);
    };
    kv.compactObserver = (revision) => hub.compact(revision);
    const config = this.world.raftConfig(this.id);
    this.paused = false;
    this.inbox = [];
    this.host = new SimHost(
      {
        config: {
          raft: config,
          random: this.world.random(this.id),
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          snapshotThresholdEntries: SNAPSHOT_EVERY,
          leaseReads: true,
          maxClockDriftRate: config.maxClockDriftRate,
          ...(this.world.hostMutant !== null ? { mutant: this.world.hostMutant } : {}),
        },
        kv,
        clock: this.hostClock(epoch),
        storage: this.disk,
        transport: this.transport,
        slicer: this.slicer(kv, epoch),
        log: SILENT,
        restored: {
          fresh,
          hardState: durable.hardState,
          snapshot: durable.snapshot?.meta ?? null,
          entries: durable.entries.slice(),
        },
      },
      this,
    );
    this.host.start();
  }

  crash(): void {
    this.host = null;
    this.hub?.close();
    this.hub = null;
    this.epoch++;
    this.inbox = [];
    this.paused = false;
    this.disk.crash();
    this.storage.crash();
    this.world.wire.drop(this.id);
  }

  pause(): void {
    if (this.up) this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const queued = this.inbox;
    this.inbox = [];
    for (const fn of queued) this.inProcess(fn);
    this.host?.poke();
  }

  /** The clock's rate changed. */
  rescheduleTick(): void {
    this.inProcess(() => this.host?.poke());
  }

  transfer(target: NodeId): void {
    this.inProcess(() => this.host?.transfer(target));
  }

  /** The operator's membership command, handled at once by a running process. */
  proposeConfChange(cc: ConfChange): boolean {
    if (this.host === null || this.paused) return false;
    return this.host.changeConf(cc);
  }

  clientRequest(req: ClientRequest): void {
    this.inProcess(() => this.handleClient(req));
  }

  private handleClient(req: ClientRequest): void {
    const host = this.host!;
    const answer = (r: Omit<ClientResponse, 'client' | 'opId' | 'attempt' | 'from'>): void =>
      this.world.reply({ client: req.client, opId: req.opId, attempt: req.attempt, from: this.id, ...r });
    const failed = (err: Error | null): void => {
      const e = err instanceof SimError ? err : new SimError('unknown');
      const definite = e.kind === 'not-leader' || e.kind === 'lost';
      answer({
        outcome: definite ? 'fail' : 'unknown',
        index: 0,
        revision: 0,
        value: null,
        leaderHint: e.hint,
        viaLease: false,
      });
    };
    if (req.op === 'put') {
      const session = { clientId: req.session, seq: req.seq };
      host.proposeCommand({ op: 'put', key: req.key, value: req.value ?? '', session }, (err, out) => {
        if (out === null) return failed(err);
        const r = out.result;
        if (r.op !== 'put') return this.world.fail(this.id, `put ${req.key} applied as ${r.op}`);
        answer({
          outcome: 'ok',
          index: out.index,
          revision: r.revision,
          value: null,
          leaderHint: null,
          viaLease: false,
        });
      });
      return;
    }
    host.readBarrier((err, mode) => {
      if (err !== null) return failed(err);
      const kv = host.state.getKv(req.key);
      answer({
        outcome: 'ok',
        index: host.state.appliedIndex,
        revision: kv?.mod ?? 0,
        value: kv?.value ?? null,
        leaderHint: null,
        viaLease: mode === 'lease',
      });
    });
  }

  private makeDisk(): SimDisk {
    return new SimDisk(this.storage, {
      after: (us, fn) => this.world.after(us, fn),
      inProcess: (fn) => this.inProcess(fn),
      fsyncLatencyUs: () => this.world.fsyncLatencyUs(),
      writeLatencyUs: () => this.world.cpuLatencyUs(),
      readLatencyUs: () => this.world.logReadLatencyUs(),
      onWrite: (entries) => this.world.observeWrite(this.id, entries),
    });
  }

  /** This node's clock and timers on virtual time; work of a crashed process never runs. */
  private hostClock(epoch: number): HostClock {
    const live = (fn: () => void) => (): void => {
      if (this.epoch === epoch) this.inProcess(fn);
    };
    return {
      now: () => this.nowMs(),
      defer: (fn) => this.world.after(0, live(fn)),
      after: (ms, fn) => {
        const handle = { cancelled: false };
        const atUs = Math.max(this.clock.trueUsAt(this.nowMs() + ms), this.world.nowUs + 1);
        const run = live(fn);
        this.world.after(atUs - this.world.nowUs, () => {
          if (!handle.cancelled) run();
        });
        return handle;
      },
      cancel: (h) => {
        (h as { cancelled: boolean }).cancelled = true;
      },
    };
  }

  /** The real state machine's encoding, whole (copy-on-write at the call), answered after a modelled delay. */
  private slicer(kv: KvStateMachine, epoch: number): KvSlicer {
    const later = (fn: () => void): void =>
      this.world.after(this.world.cpuLatencyUs(), () => {
        if (this.epoch === epoch) this.inProcess(fn);
      });
    return {
      snapshot: (done) => {
        const data = kv.snapshot();
        later(() => done(null, data));
      },
      restore: (data, done) =>
        later(() => {
          try {
            kv.restore(data as Uint8Array); // the simulated transport delivers bytes, never a spool file
          } catch (e) {
            return done(e);
          }
          done(null);
        }),
    };
  }
}
