// The server's wiring of the node's host (src/host: the drive loop, snapshots, client requests):
// the real monotonic clock and timers, the group-committing persister (storage-adapter.ts), the TCP
// peer transport and the key-value state machine encoded in slices. What is the server's own lives
// here: its configuration, the typed API errors, the watch hub fed by the state machine, the event
// log and the EventEmitter the dashboard and metrics observe. The LeaseKvNode (node.ts) is this
// class plus membership and status (node-membership.ts) and the client API; one object, so the hot
// paths (lease read, write) call straight into the host's fields with no collaborator in between.

import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { validateRaftConfig } from '../raft/config.ts';
import type { RaftConfig } from '../raft/config.ts';
import type { Entry, Message, RaftEvent, Ready } from '../raft/types.ts';
import { ConfDecodeError, decodeConfChange } from '../raft/confchange.ts';
import type { ApplyResult, KvStateMachine } from '../kv/machine.ts';
import type { Command } from '../kv/command.ts';
import type { AuthTable } from '../kv/auth.ts';
import { HostNode } from '../host/requests.ts';
import type { HostClock, HostStorage, KvSlicer, RestoredState } from '../host/types.ts';
import { formatHostPort } from './config.ts';
import type { NodeConfig } from './config.ts';
import { DeadlineExceededError, NotLeaderError, OutcomeUnknownError, UnavailableError } from './backend.ts';
import type { MemberInfo } from './backend.ts';
import { WatchHub } from './watch/hub.ts';
import type { NodeStorage } from './storage-adapter.ts';
import type { NodeTransport } from './transport-adapter.ts';
import { logRaftEvent } from './event-log.ts';
import { withDeadline } from './deadline.ts';
import { collectGarbage } from '../storage/release_memory.ts';
import { openSnapshotSource } from '../storage/snapshot_source.ts';
import { LeaseViewWriter, newLeaseViewBuffer } from './api-thread/lease-view.ts';

export { VERSION } from './version.ts';
export type { RestoredState } from '../host/types.ts';

/** The core's configuration for a node; throws ConfigError (startNode checks it before opening anything). */
export function raftConfigFor(cfg: NodeConfig): RaftConfig {
  return validateRaftConfig({
    id: cfg.id,
    // Before startNode resolves the configuration (no --peers on a node with data) only the
    // timings are checked: this member alone stands in for the members.
    members: cfg.peers.size === 0 ? [cfg.id] : [...cfg.peers.keys()].filter((id) => !(cfg.learners ?? []).includes(id)),
    learners: cfg.peers.size === 0 ? [] : [...(cfg.learners ?? [])],
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    electionTimeoutMinMs: cfg.electionTimeoutMinMs,
    electionTimeoutMaxMs: cfg.electionTimeoutMaxMs,
    leaseDurationMs: cfg.leaseDurationMs,
    maxClockDriftRate: cfg.maxClockDriftRate,
    maxPendingReads: Math.min(cfg.maxPendingRequests, 1 << 20),
    logWindowBytes: cfg.logWindowBytes,
    appendHoldMs: cfg.appendHoldMs,
  });
}

/** A write's error once the node's request timeout passed before it was known to commit. */
export const writeTimedOut = (): Error =>
  new OutcomeUnknownError('the write timed out before it was known to commit; it may or may not have been applied');

/** The real clock: performance.now() (monotonic), setImmediate and setTimeout. */
export const REAL_CLOCK: HostClock = {
  now: () => performance.now(),
  defer: (fn) => setImmediate(fn),
  after: (ms, fn) => setTimeout(fn, ms),
  cancel: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The persister's promises as the host's callbacks. */
function hostStorage(s: NodeStorage, dataDir: string): HostStorage {
  const settle = (p: Promise<unknown>, done: (err: unknown) => void): void => {
    p.then(
      () => done(null),
      (err: unknown) => done(err ?? new Error('storage failed')),
    );
  };
  // The callback form where the storage has it: no promise and microtask per Ready (issue 16).
  const persistThen = s.persistThen?.bind(s);
  return {
    persist: persistThen ?? ((req, done) => settle(s.persist(req), done)),
    saveSnapshot: (meta, data, done) => settle(s.saveSnapshot(meta, data), done),
    saveSnapshotBody: (meta, body, done) => settle(s.saveSnapshotBody(meta, body), done),
    readEntries: (lo, hi, maxBytes, done) =>
      s.readEntries(lo, hi, maxBytes).then(
        (entries) => done(null, entries),
        (err: unknown) => done(err ?? new Error('reading log entries failed'), null),
      ),
    loadSnapshot: (done) =>
      s.loadSnapshot().then(
        (snap) => done(null, snap),
        (err: unknown) => done(err ?? new Error('loading the snapshot failed'), null),
      ),
    // Beside the WAL worker, like loadSnapshot (snapshot_read.ts): the file is only replaced whole.
    openSnapshotSource: (done) =>
      openSnapshotSource(dataDir).then(
        (src) => done(null, src),
        (err: unknown) => done(err ?? new Error('opening the snapshot failed'), null),
      ),
  };
}

/** Encoding and decoding in slices, yielding to the event loop between them (copy-on-write). */
function sliced(kv: KvStateMachine): KvSlicer {
  return {
    snapshot: (done) =>
      kv.snapshotAsync().then(
        (data) => done(null, data),
        (err: unknown) => done(err ?? new Error('snapshot failed'), null),
      ),
    restore: (data, done) => {
      // A spool file (issue 16): read a piece at a time through its open handle (the WAL worker
      // renames it into place meanwhile), never into one buffer of the snapshot's size.
      const read = (offset: number, bytes: number): Promise<Uint8Array> =>
        new Promise((resolve, reject) => {
          if (data instanceof Uint8Array) return resolve(data.subarray(offset, offset + bytes));
          data.read(offset, bytes, (err, got) =>
            got === null ? reject(err ?? new Error('read failed')) : resolve(got),
          );
        });
      const restoring =
        data instanceof Uint8Array ? kv.restoreAsync(data) : kv.restoreFromPieces(data.totalBytes, read);
      restoring.then(
        () => done(null),
        (err: unknown) => done(err ?? new Error('restore failed')),
      );
    },
  };
}

export abstract class NodeDrive extends HostNode {
  /**
   * What the dashboard and metrics observe: 'raft' (e: RaftEvent, atMs) for every core event on the
   * node's clock, 'request' (method, mode, ms, ok) for every client request, 'fatal' (err),
   * 'conf-entry' (ConfChange) for every ConfChange entry appended to this node's log.
   */
  readonly events = new EventEmitter();
  protected readonly raftConfig: RaftConfig;
  protected inFlight = 0;
  /** Watchers of this member's applied state (issue 14), fed by the state machine as it applies. */
  readonly watchHub: WatchHub;
  protected membersView: () => readonly MemberInfo[] = () =>
    [...this.cfg.peers.entries()].map(([id, hp]) => {
      const ca = this.cfg.clientAddrs.get(id);
      return { id, peerAddr: formatHostPort(hp), clientAddr: ca === undefined ? '' : formatHostPort(ca) };
    });

  constructor(
    protected readonly cfg: NodeConfig,
    kv: KvStateMachine,
    storage: NodeStorage,
    transport: NodeTransport,
    log: Logger,
    restored: RestoredState,
  ) {
    const raft = raftConfigFor(cfg);
    super({
      config: {
        raft,
        random: Math.random,
        heartbeatIntervalMs: cfg.heartbeatIntervalMs,
        snapshotThresholdEntries: cfg.snapshotThresholdEntries,
        snapshotThresholdBytes: cfg.snapshotThresholdBytes,
        leaseReads: cfg.leaseReads,
        maxClockDriftRate: cfg.maxClockDriftRate,
      },
      kv,
      clock: REAL_CLOCK,
      storage: hostStorage(storage, cfg.dataDir),
      transport,
      slicer: sliced(kv),
      log,
      restored,
    });
    this.raftConfig = raft;
    this.watchHub = new WatchHub(kv.revision, cfg.watch);
    kv.observer = (revision, events) => {
      this.#leaseView?.changed(revision, events);
      this.watchHub.publish(revision, events);
    };
    kv.compactObserver = (revision) => this.watchHub.compact(revision);
  }

  /** What the client API thread reads of the lease and the state machine (null: not shared). */
  #leaseView: LeaseViewWriter | null = null;

  /**
   * Shares the lease and the applied state with the client API thread, which then answers a lease
   * read of a value it already got without a message (api-thread/lease-view.ts). Returns the buffer.
   */
  shareLeaseView(): SharedArrayBuffer {
    this.#leaseView ??= new LeaseViewWriter(newLeaseViewBuffer(), REAL_CLOCK.now);
    this.publishLeaseView();
    return this.#leaseView.buffer;
  }

  /**
   * Published after every drive and apply, and before any message leaves for a peer: a step that
   * ends the lease early (a transfer gives it up before TimeoutNow) or commits further is visible
   * to the API thread before any other node can act on it (docs/lease-safety.md).
   */
  protected publishLeaseView(): void {
    const w = this.#leaseView;
    if (w === null) return;
    if (this.stopped) return w.close();
    const now = this.now();
    const commit = this.hc.leaseReads ? this.core.leaseRead(now) : null;
    w.publish({
      untilMs: commit === null ? 0 : this.core.leaseReadUntil(now),
      commit: commit ?? 0,
      applied: this.kv.appliedIndex,
      revision: this.kv.revision,
    });
  }

  protected override send(msgs: Message[]): void {
    if (msgs.length > 0) this.publishLeaseView();
    super.send(msgs);
  }

  protected override drive(): void {
    super.drive();
    this.publishLeaseView();
  }

  protected override applyReady(rd: Ready): void {
    super.applyReady(rd);
    this.publishLeaseView();
    this.noticeAuthChange();
  }

  /** Calls `listener` whenever the auth table changed (the client API thread's copy; session 9); returns the unsubscribe. */
  onAuthTableChange(listener: () => void): () => void {
    this.events.on('auth-table', listener);
    return () => this.events.off('auth-table', listener);
  }

  /** The auth table last seen after an apply, and its version (a snapshot replaces the object). */
  #authSeen: { table: AuthTable; version: number } = { table: this.kv.auth, version: this.kv.auth.version };

  /**
   * Emits 'auth-table' once the users and roles changed (an auth entry applied, a snapshot
   * installed): the client API thread's copy is sent again at once, with no timer polling for it
   * (api-thread/host.ts; session 9).
   */
  private noticeAuthChange(): void {
    const table = this.kv.auth;
    const seen = this.#authSeen;
    if (seen.table === table && seen.version === table.version) return;
    this.#authSeen = { table, version: table.version };
    this.events.emit('auth-table');
  }

  protected override onRaftEvents(events: readonly RaftEvent[], atMs: number): void {
    for (const e of events) {
      logRaftEvent(this.log as Logger, e);
      this.events.emit('raft', e, atMs);
    }
  }

  /** The state jumped: changes between the old and new revision were never applied here. */
  protected override onSnapshotInstalled(): void {
    this.watchHub.reset(this.kv.revision);
    // The received bytes (as large as the data) are dropped in this turn, once the Ready completes:
    // collect them in the next rather than whenever V8 runs its next full collection.
    setImmediate(collectGarbage);
  }

  protected override onConfEntry(e: Entry): void {
    this.noteConfEntry(e);
  }

  /** Emits 'conf-entry' (ConfChange) for a ConfChange entry in this node's log; a malformed one is no change. */
  noteConfEntry(e: Entry): void {
    try {
      this.events.emit('conf-entry', decodeConfChange(e.data));
    } catch (err) {
      if (!(err instanceof ConfDecodeError)) throw err;
    }
  }

  protected override onFatal(err: unknown): void {
    this.events.emit('fatal', err);
  }

  protected override notLeader(hint: string | null): NotLeaderError {
    const leader = hint ?? this.core.status(this.now()).leader ?? '';
    return new NotLeaderError(leader, this.clientAddrOf(leader));
  }

  /**
   * Where clients reach member `id` ('' if unknown), for leader hints: from the members view — the
   * membership in force, with the addresses of members added since this node's flags were written
   * (a leader added by `member add` is in no --client-addrs) — and else from --client-addrs.
   */
  protected clientAddrOf(id: string): string {
    if (id === '') return '';
    const known = this.membersView().find((m) => m.id === id)?.clientAddr;
    if (known !== undefined && known !== '') return known;
    const flag = this.cfg.clientAddrs.get(id);
    return flag === undefined ? '' : formatHostPort(flag);
  }

  protected override writeLost(): Error {
    return new UnavailableError('leadership changed before the write committed; retry');
  }

  protected override outcomeUnknown(msg: string): Error {
    return new OutcomeUnknownError(msg);
  }

  protected override unavailable(msg: string): Error {
    return new UnavailableError(msg);
  }

  /**
   * Proposes `cmd` and waits for its entry to be applied, at most the node's request timeout, or
   * `deadlineMs` when that is shorter or equal (then the caller's deadline_exceeded: putQuick).
   */
  protected propose(
    cmd: Command,
    signal: AbortSignal | undefined,
    deadlineMs?: number,
  ): Promise<{ result: ApplyResult; index: number }> {
    const done = new Promise<{ result: ApplyResult; index: number }>((resolve, reject) =>
      this.proposeCommand(cmd, (err, out) => (out !== null ? resolve(out) : reject(err))),
    );
    if (deadlineMs !== undefined && deadlineMs <= this.cfg.requestTimeoutMs)
      return withDeadline(done, deadlineMs, signal, () => new DeadlineExceededError(deadlineMs), writeTimedOut);
    return withDeadline(done, this.cfg.requestTimeoutMs, signal, writeTimedOut);
  }

  protected waitApplied(index: number, signal: AbortSignal): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve, reject) =>
        this.whenApplied(index, (err) => (err === null ? resolve() : reject(err))),
      ),
      this.cfg.requestTimeoutMs,
      signal,
      () => new UnavailableError(`timed out waiting for index ${index} to be applied`),
    );
  }

  override stop(writeOutcome?: string): void {
    super.stop(writeOutcome);
    this.#leaseView?.close();
    this.watchHub.close();
  }
}
