// A leasekv node's drive loop (docs/design.md): the node's state, the loop that drives the pure
// consensus core with a monotonic clock, durable storage and the peer transport, applies committed
// commands to the key-value state machine and resolves what they unblock (proposals, apply waiters,
// reads). The LeaseKvNode (node.ts) is this class plus its snapshots (node-snapshots.ts), membership
// and status (node-membership.ts) and the client API; one object, so the hot paths (lease read,
// write) call straight into these fields with no collaborator in between.
//
// The drive loop (see raft/types.ts, Ready, and docs/design.md): inputs (messages, proposals, reads,
// timer ticks) go into the core as they arrive; one drive per event-loop turn takes the core's
// Ready, sends what may leave at once, applies the committed entries (already durable on a majority)
// and answers what they unblock, and hands new entries/hard state to the group-committing persister;
// only after that is durable do acknowledgements and votes leave. While a Ready is being persisted,
// heartbeats and their acks still leave. Proposals that arrive meanwhile share the next fsync.

import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { RaftNode } from '../raft/node.ts';
import { validateRaftConfig } from '../raft/config.ts';
import type { RaftConfig } from '../raft/config.ts';
import { EntryType } from '../raft/types.ts';
import type { Entry, Message, Ready, SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import { ConfDecodeError, decodeConfChange } from '../raft/confchange.ts';
import { KvStateMachine } from '../kv/machine.ts';
import { encodeCommand } from '../kv/command.ts';
import { formatHostPort } from './config.ts';
import type { NodeConfig } from './config.ts';
import { NotLeaderError, OutcomeUnknownError, UnavailableError } from './backend.ts';
import type { MemberInfo } from './backend.ts';
import { ApplyQueue, ProposalTable, ReadTable } from './waiters.ts';
import { WatchHub } from './watch/hub.ts';
import { TtlCountdowns } from './ttl-countdowns.ts';
import type { NodeStorage } from './storage-adapter.ts';
import type { NodeTransport } from './transport-adapter.ts';
import { logRaftEvent } from './event-log.ts';
import { withDeadline } from './deadline.ts';
import { assert } from '../util/assert.ts';

export const VERSION = '0.1.0';

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
  });
}

export abstract class NodeDrive {
  /**
   * What the dashboard and metrics observe: 'raft' (e: RaftEvent, atMs) for every core event on the
   * node's clock, 'request' (method, mode, ms, ok) for every client request, 'fatal' (err).
   */
  readonly events = new EventEmitter();
  protected readonly core: RaftNode;
  protected readonly proposals = new ProposalTable();
  protected readonly applyWaiters = new ApplyQueue();
  protected readonly reads = new ReadTable();
  protected readonly raftConfig: RaftConfig;
  protected scheduled = false;
  protected persisting = false;
  protected timer: NodeJS.Timeout | null = null;
  protected stopped = false;
  protected wasLeader = false;
  protected lastHeardFromLeaderMs = Number.NEGATIVE_INFINITY;
  protected lastSnapshotIndex: number;
  protected snapshotting = false;
  /** Snapshot data received from the leader, waiting for the core to accept it (by index). */
  protected incomingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  protected inFlight = 0;
  /** The last snapshot read from disk to send to followers (dropped when a newer one is taken). */
  protected outgoingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  protected readonly snapshotLoading = new Set<string>();
  /** Watchers of this member's applied state (issue 14), fed by the state machine as it applies. */
  readonly watchHub: WatchHub;
  protected membersView: () => readonly MemberInfo[] = () =>
    [...this.cfg.peers.entries()].map(([id, hp]) => {
      const ca = this.cfg.clientAddrs.get(id);
      return { id, peerAddr: formatHostPort(hp), clientAddr: ca === undefined ? '' : formatHostPort(ca) };
    });
  /** The leader's countdowns for TTL grants (ttl-countdowns.ts); idle on followers. */
  readonly ttlCountdowns: TtlCountdowns;

  constructor(
    protected readonly cfg: NodeConfig,
    protected readonly kv: KvStateMachine,
    protected readonly storage: NodeStorage,
    protected readonly transport: NodeTransport,
    protected readonly log: Logger,
    restored: RestoredState,
  ) {
    this.raftConfig = raftConfigFor(cfg);
    this.lastSnapshotIndex = restored.snapshot?.index ?? 0;
    this.core = new RaftNode({
      config: this.raftConfig,
      random: Math.random,
      nowMs: this.now(),
      ...(restored.fresh
        ? {}
        : { restored: { hardState: restored.hardState, snapshot: restored.snapshot, entries: restored.entries } }),
    });
    transport.onMessage((msg) => this.onPeerMessage(msg));
    transport.onSnapshot((msg, data) => this.onPeerSnapshot(msg, data));
    this.watchHub = new WatchHub(kv.revision, cfg.watch);
    kv.observer = (revision, events) => this.watchHub.publish(revision, events);
    kv.compactObserver = (revision) => this.watchHub.compact(revision);
    this.ttlCountdowns = new TtlCountdowns(1 + cfg.maxClockDriftRate);
    kv.ttlObserver = (e) =>
      e.kind === 'granted' ? this.ttlCountdowns.restart(e.id, e.ttlMs, this.now()) : this.ttlCountdowns.ended(e.id);
  }

  /**
   * The leader's TTL countdowns: started in full once this leader may serve lease reads (or, with
   * lease reads off, once an entry of its term is applied), stopped when it is no longer leader;
   * each grant whose time is up is expired through the log (docs/lease-safety.md, "TTL grants").
   */
  protected tickTtls(now: number): void {
    const c = this.ttlCountdowns;
    if (this.core.role !== 'leader') {
      if (c.active) c.stop();
      return;
    }
    if (!c.active) {
      const ready = this.cfg.leaseReads
        ? this.core.leaseRead(now)
        : this.kv.appliedTerm === this.core.term
          ? this.kv.appliedIndex
          : null;
      if (ready === null || this.kv.appliedIndex < ready) return;
      c.start(now, this.kv.ttlGrants());
      this.log.info({ grants: c.size }, 'leader: TTL countdowns started in full');
    }
    for (const id of c.due(now)) {
      let res;
      try {
        res = this.core.propose(encodeCommand({ op: 'ttl-expire', id }), now);
      } catch {
        res = null;
      }
      if (res === null || !res.ok) {
        c.retry(id);
        continue;
      }
      // Applied: the state machine says 'ended'. Lost (leadership moved): a later check retries.
      this.proposals.add(res.index, { term: res.term, resolve: () => c.ended(id), reject: () => c.retry(id) });
      this.log.info({ ttlId: id }, 'TTL grant expired; proposing its end');
    }
  }

  /** Monotonic milliseconds (docs/lease-notes.md case 3): never Date.now(). */
  now(): number {
    return performance.now();
  }

  start(): void {
    this.schedule();
  }

  // ---- the drive loop -------------------------------------------------------------------------

  protected schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.drive());
  }

  protected armTimer(): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const waitMs = Math.max(1, Math.min(this.core.nextTickAtMs() - this.now(), this.cfg.heartbeatIntervalMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, Math.ceil(waitMs));
  }

  protected drive(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const now = this.now();
    this.core.tick(now);
    this.tickTtls(now);
    if (!this.persisting) {
      const rd = this.core.ready(now);
      if (rd !== null) this.handleReady(rd);
    } else {
      // The disk is busy with the last Ready: heartbeats and their acks still leave now.
      const urgent = this.core.takeUrgentMessages(now);
      if (urgent.length > 0) this.send(urgent.map((o) => o.msg));
    }
    this.armTimer();
  }

  protected handleReady(rd: Ready): void {
    // A change is in force once appended: the transport must know a new member before the first
    // message to it leaves (the membership listener adds its address).
    for (const e of rd.entries) if (e.type === EntryType.ConfChange) this.noteConfEntry(e);
    const later: Message[] = [];
    const now: Message[] = [];
    for (const o of rd.messages) (o.afterPersist ? later : now).push(o.msg);
    this.send(now);
    const snapshot =
      rd.snapshot !== null && this.incomingSnapshot?.meta.index === rd.snapshot.index ? this.incomingSnapshot : null;
    assert(
      rd.snapshot === null || snapshot !== null,
      () => `core installed snapshot ${rd.snapshot?.index} that the host never received`,
    );
    // Committed entries are durable on a majority already (the leader counts its own copy only once
    // it is on its disk), so they are applied — and their clients answered — now, without waiting
    // for this Ready's new entries to be fsynced. Only a snapshot from the leader must be restored
    // before anything after it is applied.
    if (snapshot === null) this.applyReady(rd);
    if (rd.entries.length === 0 && rd.hardState === null && snapshot === null) {
      this.completeReady(rd, later, null);
      return;
    }
    this.persisting = true;
    // A snapshot from the leader is decoded in slices (heartbeats keep flowing) while it is saved;
    // no apply happens meanwhile because no new Ready is taken until this one is finished.
    const restored = snapshot === null ? Promise.resolve() : this.kv.restoreAsync(snapshot.data);
    Promise.all([
      restored,
      this.storage.persist({ entries: rd.entries, hardState: rd.hardState, snapshot, sync: rd.mustSync }),
    ]).then(
      () => {
        this.persisting = false;
        if (this.stopped) return;
        // The state jumped: changes between the old and new revision were never applied here.
        if (snapshot !== null) this.watchHub.reset(this.kv.revision);
        if (snapshot !== null) this.applyReady(rd);
        this.completeReady(rd, later, snapshot);
        this.schedule();
      },
      (err: unknown) => this.fatal('persisting to the write-ahead log', err),
    );
  }

  /** Applies committed entries, answers what they and the read states unblock, reports events. */
  protected applyReady(rd: Ready): void {
    for (const e of rd.committedEntries) {
      if (e.index <= this.kv.appliedIndex) continue;
      const result = this.kv.apply(e);
      this.proposals.applied(
        e.index,
        e.term,
        result,
        () => new UnavailableError('leadership changed before the write committed; retry'),
      );
    }
    this.applyWaiters.release(this.kv.appliedIndex);
    for (const rs of rd.readStates) this.reads.resolve(rs.requestId, rs.index);
    for (const rf of rd.readFailures) this.reads.reject(rf.requestId, this.notLeader(rf.leaderHint));
    const atMs = this.now();
    for (const e of rd.events) {
      // A leader renewing its lease is the leader this node last heard from: after it steps down,
      // its stale reads are as old as its last renewal (not "never heard", not 0).
      if (e.kind === 'lease-acquired' || e.kind === 'lease-renewed') this.lastHeardFromLeaderMs = atMs;
      logRaftEvent(this.log, e);
      this.events.emit('raft', e, atMs);
    }
  }

  /** After the Ready's persistence: acknowledgements and votes leave, the core moves on. */
  protected completeReady(
    rd: Ready,
    later: Message[],
    snapshot: { meta: SnapshotMeta; data: Uint8Array } | null,
  ): void {
    this.send(later);
    if (snapshot !== null) {
      this.lastSnapshotIndex = snapshot.meta.index;
      this.incomingSnapshot = null;
      this.log.info({ index: snapshot.meta.index, term: snapshot.meta.term }, 'installed snapshot from leader');
    }
    this.core.advance(rd, this.now());
    this.noticeRoleChange();
    this.maybeSnapshot();
  }

  /** Emits 'conf-entry' (ConfChange) for a ConfChange entry in this node's log; a malformed one is no change. */
  noteConfEntry(e: Entry): void {
    try {
      this.events.emit('conf-entry', decodeConfChange(e.data));
    } catch (err) {
      if (!(err instanceof ConfDecodeError)) throw err;
    }
  }

  protected noticeRoleChange(): void {
    const isLeader = this.core.role === 'leader';
    if (this.wasLeader && !isLeader) {
      // Proposals in flight may still commit under the next leader: their outcome is unknown.
      // Clients retry with the same session, which makes that safe (exactly-once).
      this.proposals.failAll(
        () =>
          new OutcomeUnknownError('leadership lost while the write was in flight; it may or may not have been applied'),
      );
      this.reads.failAll(() => this.notLeader(null));
    }
    this.wasLeader = isLeader;
  }

  protected send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    const plain: Message[] = [];
    for (const m of msgs) {
      if (m.type === 'snap') this.sendSnapshot(m);
      else plain.push(m);
    }
    if (plain.length > 0) this.transport.send(plain);
  }

  protected onPeerMessage(msg: Message): void {
    if (this.stopped) return;
    const now = this.now();
    if ((msg.type === 'app' || msg.type === 'snap') && msg.term >= this.core.term) this.lastHeardFromLeaderMs = now;
    this.core.step(msg, now);
    this.schedule();
  }

  protected onPeerSnapshot(msg: SnapshotRequest, data: Uint8Array): void {
    this.incomingSnapshot = { meta: msg.snapshot, data };
    this.onPeerMessage(msg);
  }

  /**
   * A storage error (disk full, I/O error): a failed write or fsync cannot be retried safely, so the
   * node stops. Requests in flight are answered now — writes `unavailable` with outcome unknown (the
   * entry may be on a majority's disks and commit under the next leader), reads `unavailable` —
   * before the host closes the API. One log line says why (docs/storage.md, "Storage errors").
   */
  protected fatal(what: string, err: unknown): void {
    if (this.stopped) return;
    const cause = rootMessage(err);
    this.log.fatal(
      { cause },
      `storage error ${what}: ${cause}; stopping this node so that nothing unsafe is acknowledged`,
    );
    this.stop(
      `a storage error stopped this node (${cause}) while the write was in flight; it may or may not have been applied`,
    );
    this.events.emit('fatal', err);
  }

  protected notLeader(hint: string | null): NotLeaderError {
    const leader = hint ?? this.core.status(this.now()).leader ?? '';
    const addr = leader === '' ? undefined : this.cfg.clientAddrs.get(leader);
    return new NotLeaderError(leader, addr === undefined ? '' : formatHostPort(addr));
  }

  protected waitApplied(index: number, signal: AbortSignal): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve, reject) => this.applyWaiters.add({ index, resolve, reject })),
      this.cfg.requestTimeoutMs,
      signal,
      () => new UnavailableError(`timed out waiting for index ${index} to be applied`),
    );
  }

  /** False once the node stopped (a graceful stop, or a fatal storage error). */
  get running(): boolean {
    return !this.stopped;
  }

  stop(writeOutcome = 'node stopped while the write was in flight; it may or may not have been applied'): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const err = (): Error => new UnavailableError('node stopped');
    // A write handed to the log may still commit under the next leader.
    this.proposals.failAll(() => new OutcomeUnknownError(writeOutcome));
    this.reads.failAll(err);
    this.applyWaiters.failAll(err);
    this.watchHub.close();
  }

  /** Sends a snapshot to a follower (node-snapshots.ts). */
  protected abstract sendSnapshot(msg: SnapshotRequest): void;

  /** Takes a snapshot when enough entries were applied (node-snapshots.ts). */
  protected abstract maybeSnapshot(): void;
}

export interface RestoredState {
  readonly fresh: boolean;
  readonly hardState: { readonly term: number; readonly votedFor: string | null; readonly commit: number };
  readonly snapshot: SnapshotMeta | null;
  readonly entries: readonly Entry[];
}

/** The innermost message of an error chain (a storage error arrives wrapped: PersisterFailedError → the fs error). */
function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 8 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
