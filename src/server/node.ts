// A leasekv node: drives the pure consensus core with a monotonic clock, durable storage and the peer
// transport, applies committed commands to the key-value state machine, and answers the client API.
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
import type { ConfChange, Entry, Message, Ready, SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import { ConfDecodeError, decodeConfChange } from '../raft/confchange.ts';
import type { ConfChangeResult } from '../raft/membership.ts';
import type { MembershipTable } from '../kv/members.ts';
import { KvStateMachine } from '../kv/machine.ts';
import type { ApplyResult } from '../kv/machine.ts';
import { encodeCommand } from '../kv/command.ts';
import type { Command } from '../kv/command.ts';
import { formatHostPort } from './config.ts';
import type { NodeConfig } from './config.ts';
import {
  InvalidArgumentError,
  NotLeaderError,
  OutcomeUnknownError,
  OverloadedError,
  SessionExpiredError,
  TtlNotFoundError,
  FutureRevisionError,
  UnavailableError,
} from './backend.ts';
import type {
  CasRequest, CasResult, DeleteRequest, DeleteResult, GetRequest, GetResult, KvBackend, PutRequest, PutResult,
  MemberInfo, RangeRequest, RangeResult, ReadMode, SessionRef, StatusResult, TxnRequest, TxnResult,
  TtlGrantRequest, TtlGrantResult, TtlRevokeRequest, TtlRevokeResult,
} from './backend.ts';
import { ApplyQueue, ProposalTable, ReadTable } from './waiters.ts';
import { CompactedError, WatchHub, type Watcher, type WatchRequest } from './watch/hub.ts';
import type { KeyValue } from '../kv/result.ts';
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

export class LeaseKvNode implements KvBackend {
  /**
   * What the dashboard and metrics observe: 'raft' (e: RaftEvent, atMs) for every core event on the
   * node's clock, 'request' (method, mode, ms, ok) for every client request, 'fatal' (err).
   */
  readonly events = new EventEmitter();
  private readonly core: RaftNode;
  private readonly proposals = new ProposalTable();
  private readonly applyWaiters = new ApplyQueue();
  private readonly reads = new ReadTable();
  private readonly raftConfig: RaftConfig;
  private scheduled = false;
  private persisting = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private wasLeader = false;
  private lastHeardFromLeaderMs = Number.NEGATIVE_INFINITY;
  private lastSnapshotIndex: number;
  private snapshotting = false;
  /** Snapshot data received from the leader, waiting for the core to accept it (by index). */
  private incomingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  private inFlight = 0;
  /** The last snapshot read from disk to send to followers (dropped when a newer one is taken). */
  private outgoingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  private readonly snapshotLoading = new Set<string>();
  /** Watchers of this member's applied state (issue 14), fed by the state machine as it applies. */
  readonly watchHub: WatchHub;
  private membersView: () => readonly MemberInfo[] = () =>
    [...this.cfg.peers.entries()].map(([id, hp]) => {
      const ca = this.cfg.clientAddrs.get(id);
      return { id, peerAddr: formatHostPort(hp), clientAddr: ca === undefined ? '' : formatHostPort(ca) };
    });
  /** The leader's countdowns for TTL grants (ttl-countdowns.ts); idle on followers. */
  readonly ttlCountdowns: TtlCountdowns;

  constructor(
    private readonly cfg: NodeConfig,
    private readonly kv: KvStateMachine,
    private readonly storage: NodeStorage,
    private readonly transport: NodeTransport,
    private readonly log: Logger,
    restored: RestoredState,
  ) {
    this.raftConfig = raftConfigFor(cfg);
    this.lastSnapshotIndex = restored.snapshot?.index ?? 0;
    this.core = new RaftNode({
      config: this.raftConfig,
      random: Math.random,
      nowMs: this.now(),
      ...(restored.fresh ? {} : { restored: { hardState: restored.hardState, snapshot: restored.snapshot, entries: restored.entries } }),
    });
    transport.onMessage((msg) => this.onPeerMessage(msg));
    transport.onSnapshot((msg, data) => this.onPeerSnapshot(msg, data));
    this.watchHub = new WatchHub(kv.revision, cfg.watch);
    kv.observer = (revision, events) => this.watchHub.publish(revision, events);
    kv.compactObserver = (revision) => this.watchHub.compact(revision);
    this.ttlCountdowns = new TtlCountdowns(1 + cfg.maxClockDriftRate);
    kv.ttlObserver = (e) => (e.kind === 'granted' ? this.ttlCountdowns.restart(e.id, e.ttlMs, this.now()) : this.ttlCountdowns.ended(e.id));
  }

  /**
   * The leader's TTL countdowns: started in full once this leader may serve lease reads (or, with
   * lease reads off, once an entry of its term is applied), stopped when it is no longer leader;
   * each grant whose time is up is expired through the log (docs/lease-safety.md, "TTL grants").
   */
  private tickTtls(now: number): void {
    const c = this.ttlCountdowns;
    if (this.core.role !== 'leader') {
      if (c.active) c.stop();
      return;
    }
    if (!c.active) {
      const ready = this.cfg.leaseReads ? this.core.leaseRead(now) : this.kv.appliedTerm === this.core.term ? this.kv.appliedIndex : null;
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

  watch(req: WatchRequest): Watcher {
    if (this.stopped) throw new UnavailableError('node is stopping');
    return this.watchHub.watch(req);
  }

  /** Monotonic milliseconds (docs/lease-notes.md case 3): never Date.now(). */
  now(): number {
    return performance.now();
  }

  start(): void {
    this.schedule();
  }

  // ---- the drive loop -------------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.drive());
  }

  private armTimer(): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const waitMs = Math.max(1, Math.min(this.core.nextTickAtMs() - this.now(), this.cfg.heartbeatIntervalMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.schedule();
    }, Math.ceil(waitMs));
  }

  private drive(): void {
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

  private handleReady(rd: Ready): void {
    // A change is in force once appended: the transport must know a new member before the first
    // message to it leaves (the membership listener adds its address).
    for (const e of rd.entries) if (e.type === EntryType.ConfChange) this.noteConfEntry(e);
    const later: Message[] = [];
    const now: Message[] = [];
    for (const o of rd.messages) (o.afterPersist ? later : now).push(o.msg);
    this.send(now);
    const snapshot = rd.snapshot !== null && this.incomingSnapshot?.meta.index === rd.snapshot.index ? this.incomingSnapshot : null;
    assert(rd.snapshot === null || snapshot !== null, () => `core installed snapshot ${rd.snapshot?.index} that the host never received`);
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
    Promise.all([restored, this.storage.persist({ entries: rd.entries, hardState: rd.hardState, snapshot, sync: rd.mustSync })]).then(
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
  private applyReady(rd: Ready): void {
    for (const e of rd.committedEntries) {
      if (e.index <= this.kv.appliedIndex) continue;
      const result = this.kv.apply(e);
      this.proposals.applied(e.index, e.term, result, () => new UnavailableError('leadership changed before the write committed; retry'));
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
  private completeReady(rd: Ready, later: Message[], snapshot: { meta: SnapshotMeta; data: Uint8Array } | null): void {
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

  // ---- membership (membership.ts drives these) --------------------------------------------------

  proposeConfChange(cc: ConfChange, force: boolean): ConfChangeResult {
    const r = this.core.proposeConfChange(cc, this.now(), { force });
    this.schedule();
    return r;
  }

  transferTo(target: string | null): boolean {
    const ok = this.core.transferLeadership(target, this.now());
    this.schedule();
    return ok;
  }

  waitAppliedIndex(index: number, signal: AbortSignal): Promise<void> {
    return this.kv.appliedIndex >= index ? Promise.resolve() : this.waitApplied(index, signal);
  }

  get members(): MembershipTable {
    return this.kv.members;
  }

  notLeaderError(hint: string | null): NotLeaderError {
    return this.notLeader(hint);
  }

  /** Who the members are and where, for Status (set by startNode; default: the flags' view). */
  setMembersView(view: () => readonly MemberInfo[]): void {
    this.membersView = view;
  }

  /** The members in force now, as Status lists them (the dashboard's feed sends them too). */
  memberList(): readonly MemberInfo[] {
    return this.membersView();
  }

  private noticeRoleChange(): void {
    const isLeader = this.core.role === 'leader';
    if (this.wasLeader && !isLeader) {
      // Proposals in flight may still commit under the next leader: their outcome is unknown.
      // Clients retry with the same session, which makes that safe (exactly-once).
      this.proposals.failAll(() => new OutcomeUnknownError('leadership lost while the write was in flight; it may or may not have been applied'));
      this.reads.failAll(() => this.notLeader(null));
    }
    this.wasLeader = isLeader;
  }

  private send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    const plain: Message[] = [];
    for (const m of msgs) {
      if (m.type === 'snap') this.sendSnapshot(m);
      else plain.push(m);
    }
    if (plain.length > 0) this.transport.send(plain);
  }

  /**
   * The core re-offers a snapshot on every heartbeat round until the follower has it. One transfer
   * per follower at a time: a re-offer while one is streaming is dropped, and the bytes read from
   * disk are kept (one snapshot, by index) for the next follower or a restarted transfer.
   */
  private sendSnapshot(msg: SnapshotRequest): void {
    if (this.transport.snapshotInProgress(msg.to) || this.snapshotLoading.has(msg.to)) return;
    const cached = this.outgoingSnapshot;
    if (cached !== null && cached.meta.index === msg.snapshot.index) {
      this.transport.sendSnapshot(msg, cached.data);
      return;
    }
    this.snapshotLoading.add(msg.to);
    this.storage.loadSnapshot().then(
      (snap) => {
        this.snapshotLoading.delete(msg.to);
        if (snap === null || snap.meta.index !== msg.snapshot.index) {
          this.log.warn({ to: msg.to, index: msg.snapshot.index }, 'snapshot to send is gone; the core will ask again');
          return;
        }
        this.outgoingSnapshot = snap;
        this.log.info({ to: msg.to, index: snap.meta.index, bytes: snap.data.length }, 'sending snapshot');
        this.transport.sendSnapshot(msg, snap.data);
      },
      (err: unknown) => {
        this.snapshotLoading.delete(msg.to);
        this.log.error({ err, to: msg.to }, 'reading snapshot to send failed');
      },
    );
  }

  private onPeerMessage(msg: Message): void {
    if (this.stopped) return;
    const now = this.now();
    if ((msg.type === 'app' || msg.type === 'snap') && msg.term >= this.core.term) this.lastHeardFromLeaderMs = now;
    this.core.step(msg, now);
    this.schedule();
  }

  private onPeerSnapshot(msg: SnapshotRequest, data: Uint8Array): void {
    this.incomingSnapshot = { meta: msg.snapshot, data };
    this.onPeerMessage(msg);
  }

  /** Take a snapshot every snapshotThresholdEntries applied entries, then compact the log. */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.kv.appliedIndex - this.lastSnapshotIndex < this.cfg.snapshotThresholdEntries) return;
    this.snapshotting = true;
    const meta: SnapshotMeta = { index: this.kv.appliedIndex, term: this.kv.appliedTerm, confState: this.core.confStateAt(this.kv.appliedIndex) };
    const startedMs = this.now();
    let bytes = 0;
    // snapshotAsync encodes in slices, copy-on-write, so applying and heartbeats go on meanwhile.
    this.kv.snapshotAsync().then(
      (data) => {
        bytes = data.length;
        // A snapshot installed from the leader meanwhile may already cover this one.
        return meta.index > this.lastSnapshotIndex ? this.storage.saveSnapshot(meta, data).then(() => true) : false;
      },
    ).then(
      (saved) => {
        this.snapshotting = false;
        if (!saved) return;
        this.lastSnapshotIndex = meta.index;
        this.outgoingSnapshot = null;
        this.core.compact(meta.index);
        this.log.info({ index: meta.index, bytes, ms: Math.round(this.now() - startedMs) }, 'snapshot written, log compacted');
      },
      (err: unknown) => this.fatal('writing a snapshot', err),
    );
  }

  /**
   * A storage error (disk full, I/O error): a failed write or fsync cannot be retried safely, so the
   * node stops. Requests in flight are answered now — writes `unavailable` with outcome unknown (the
   * entry may be on a majority's disks and commit under the next leader), reads `unavailable` —
   * before the host closes the API. One log line says why (docs/storage.md, "Storage errors").
   */
  private fatal(what: string, err: unknown): void {
    if (this.stopped) return;
    const cause = rootMessage(err);
    this.log.fatal({ cause }, `storage error ${what}: ${cause}; stopping this node so that nothing unsafe is acknowledged`);
    this.stop(`a storage error stopped this node (${cause}) while the write was in flight; it may or may not have been applied`);
    this.events.emit('fatal', err);
  }

  // ---- the client API (KvBackend) ---------------------------------------------------------------

  private admit(): void {
    if (this.stopped) throw new UnavailableError('node is stopping');
    if (this.inFlight >= this.cfg.maxPendingRequests) {
      throw new OverloadedError(`too many pending requests (${this.cfg.maxPendingRequests}); retry later`);
    }
  }

  /**
   * Admission, in-flight accounting and the 'request' event (metrics, dashboard). The event's mode is
   * how a read was served (lease, readindex, stale) when it succeeded, else what was asked for.
   */
  private async track<T>(method: string, mode: string, work: () => Promise<T>, served?: (r: T) => string): Promise<T> {
    this.admit();
    this.inFlight++;
    const t0 = this.now();
    let ok = false;
    let label = mode;
    try {
      const r = await work();
      ok = true;
      if (served !== undefined) label = served(r);
      return r;
    } finally {
      this.inFlight--;
      this.events.emit('request', method, label, this.now() - t0, ok);
    }
  }

  private notLeader(hint: string | null): NotLeaderError {
    const leader = hint ?? this.core.status(this.now()).leader ?? '';
    const addr = leader === '' ? undefined : this.cfg.clientAddrs.get(leader);
    return new NotLeaderError(leader, addr === undefined ? '' : formatHostPort(addr));
  }

  private propose(cmd: Command, signal: AbortSignal): Promise<{ result: ApplyResult; index: number }> {
    const res = this.core.propose(encodeCommand(cmd), this.now());
    if (!res.ok) throw this.notLeader(res.leaderHint);
    const done = new Promise<{ result: ApplyResult; index: number }>((resolve, reject) => {
      this.proposals.add(res.index, { term: res.term, resolve: (result, index) => resolve({ result, index }), reject });
    });
    this.schedule();
    return withDeadline(done, this.cfg.requestTimeoutMs, signal, () => new OutcomeUnknownError('the write timed out before it was known to commit; it may or may not have been applied'));
  }

  private checkResult(r: ApplyResult): void {
    if (r.op === 'session-stale') throw new SessionExpiredError(`session ${r.clientId}: seq ${r.seq} is older than the last applied seq ${r.lastSeq}`);
    if (r.op === 'session-expired') throw new SessionExpiredError(`session ${r.clientId} expired; start a new session`);
    if (r.op === 'invalid') throw new InvalidArgumentError(r.reason);
    if (r.op === 'ttl-not-found') throw new TtlNotFoundError(r.id);
  }

  private session(s: SessionRef | undefined): { session?: SessionRef } {
    return s === undefined ? {} : { session: s };
  }

  put(req: PutRequest, signal: AbortSignal): Promise<PutResult> {
    return this.track('Put', 'write', async () => {
      const ttl = req.ttl === undefined ? {} : { ttl: req.ttl };
      const { result, index } = await this.propose({ op: 'put', key: req.key, value: req.value, ...ttl, ...this.session(req.session) }, signal);
      this.checkResult(result);
      assert(result.op === 'put', () => `put applied as ${result.op}`);
      return { index, revision: result.revision };
    });
  }

  delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult> {
    return this.track('Delete', 'write', async () => {
      const { result, index } = await this.propose({ op: 'delete', key: req.key, ...this.session(req.session) }, signal);
      this.checkResult(result);
      assert(result.op === 'delete', () => `delete applied as ${result.op}`);
      return { deleted: result.deleted, index, revision: result.revision };
    });
  }

  compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult> {
    return this.track('CompareAndSwap', 'write', async () => {
      const cmd: Command = { op: 'cas', key: req.key, expected: req.expected, value: req.value, ...this.session(req.session) };
      const { result, index } = await this.propose(cmd, signal);
      this.checkResult(result);
      assert(result.op === 'cas', () => `cas applied as ${result.op}`);
      return { swapped: result.swapped, index, revision: result.revision, ...(result.current === undefined ? {} : { current: result.current }) };
    });
  }

  ttlGrant(req: TtlGrantRequest, signal: AbortSignal): Promise<TtlGrantResult> {
    return this.track('TtlGrant', 'write', async () => {
      const { result, index } = await this.propose({ op: 'ttl-grant', ttlMs: req.ttlMs, ...this.session(req.session) }, signal);
      this.checkResult(result);
      assert(result.op === 'ttl-grant', () => `ttl-grant applied as ${result.op}`);
      return { id: result.id, ttlMs: result.ttlMs, index, revision: result.revision };
    });
  }

  ttlRevoke(req: TtlRevokeRequest, signal: AbortSignal): Promise<TtlRevokeResult> {
    return this.track('TtlRevoke', 'write', async () => {
      const { result, index } = await this.propose({ op: 'ttl-revoke', id: req.id, ...this.session(req.session) }, signal);
      this.checkResult(result);
      assert(result.op === 'ttl-revoke', () => `ttl-revoke applied as ${result.op}`);
      return { found: result.found, index, revision: result.revision };
    });
  }

  /**
   * Restarts a grant's countdown. Only a leader that has confirmed its leadership (a lease read or
   * a ReadIndex round) and is counting answers: a deposed leader's answer would promise time the
   * new leader does not know about.
   */
  ttlKeepAlive(id: number, signal: AbortSignal): Promise<{ id: number; ttlMs: number }> {
    return this.track('TtlKeepAlive', 'linearizable', async () => {
      await this.readBarrier('linearizable', signal);
      if (!this.ttlCountdowns.active) throw new UnavailableError('the leader has not started its TTL countdowns yet (it waits for the previous leader\'s lease); retry');
      const ttlMs = this.kv.ttlOf(id);
      if (ttlMs === undefined) throw new TtlNotFoundError(id);
      this.ttlCountdowns.restart(id, ttlMs, this.now());
      return { id, ttlMs };
    });
  }

  txn(req: TxnRequest, signal: AbortSignal): Promise<TxnResult> {
    return this.track('Txn', 'write', async () => {
      const cmd: Command = { op: 'txn', compares: req.compares, success: req.success, failure: req.failure, ...this.session(req.session) };
      const { result, index } = await this.propose(cmd, signal);
      this.checkResult(result);
      assert(result.op === 'txn', () => `txn applied as ${result.op}`);
      return { succeeded: result.succeeded, results: result.results, index, revision: result.revision };
    });
  }

  /**
   * Waits until this node may answer a read consistently and returns how: a lease read (leader with
   * a valid lease at the time of serving, current-term entry committed), a ReadIndex round, or a
   * stale read from local state.
   */
  private async readBarrier(consistency: 'linearizable' | 'stale', signal: AbortSignal): Promise<ReadMode> {
    if (consistency === 'stale') return 'stale';
    const leaseIndex = this.cfg.leaseReads ? this.core.leaseRead(this.now()) : null;
    if (leaseIndex !== null) {
      if (this.kv.appliedIndex < leaseIndex) await this.waitApplied(leaseIndex, signal);
      return 'lease';
    }
    if (this.core.role !== 'leader') throw this.notLeader(null);
    const index = await withDeadline(
      new Promise<number>((resolve, reject) => {
        const id = this.reads.add({ resolve, reject });
        this.core.readIndex(id, this.now(), this.cfg.leaseReads);
        this.schedule();
      }),
      this.cfg.requestTimeoutMs,
      signal,
      () => new UnavailableError('read timed out waiting for a majority to confirm leadership'),
    );
    if (this.kv.appliedIndex < index) await this.waitApplied(index, signal);
    return 'readindex';
  }

  private waitApplied(index: number, signal: AbortSignal): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve, reject) => this.applyWaiters.add({ index, resolve, reject })),
      this.cfg.requestTimeoutMs,
      signal,
      () => new UnavailableError(`timed out waiting for index ${index} to be applied`),
    );
  }

  private staleByMs(mode: ReadMode): number {
    if (mode !== 'stale') return 0;
    const st = this.core.status(this.now());
    if (st.role === 'leader' && st.leaseHeld) return 0;
    // Never heard from a leader: unknown staleness, Infinity (the API clamps it to the u32 maximum;
    // it used to be -1, which the API clamped to 0, i.e. "perfectly fresh").
    return Math.round(this.now() - this.lastHeardFromLeaderMs);
  }

  get(req: GetRequest, signal: AbortSignal): Promise<GetResult> {
    return this.track('Get', req.consistency, async () => {
      const readMode = await this.readBarrier(req.consistency, signal);
      return this.getResult(req.key, readMode);
    }, (g) => g.readMode);
  }

  private getResult(key: string, readMode: ReadMode): GetResult {
    const kv = this.kv.getKv(key);
    return {
      found: kv !== undefined,
      value: kv?.value ?? '',
      index: this.kv.appliedIndex,
      readMode,
      staleByMs: this.staleByMs(readMode),
      revision: this.kv.revision,
      createRevision: kv?.create ?? 0,
      modRevision: kv?.mod ?? 0,
      version: kv?.version ?? 0,
    };
  }

  getNow(req: GetRequest): GetResult | null {
    if (this.stopped) return null;
    let readMode: ReadMode = 'stale';
    if (req.consistency === 'linearizable') {
      // Lease checked at the time of serving (docs/lease-notes.md case 2), not at the last tick.
      const leaseIndex = this.cfg.leaseReads ? this.core.leaseRead(this.now()) : null;
      if (leaseIndex === null || this.kv.appliedIndex < leaseIndex) return null;
      readMode = 'lease';
    }
    this.events.emit('request', 'Get', readMode, 0, true);
    return this.getResult(req.key, readMode);
  }

  range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult> {
    return this.track('Range', req.consistency, async () => {
      await this.readBarrier(req.consistency, signal);
      if (req.revision !== undefined && req.revision !== this.kv.revision) return this.rangeAt(req.prefix, req.limit, req.revision);
      const rows = this.kv.rangeKvs(req.prefix, req.limit + 1);
      return { kvs: rows.slice(0, req.limit), more: rows.length > req.limit, index: this.kv.appliedIndex, revision: this.kv.revision };
    });
  }

  /**
   * Range at a past revision: the keys as they were at `at`, from the current state and this
   * member's change history (every key changed after `at` is put back as it was then).
   */
  private rangeAt(prefix: string, limit: number, at: number): RangeResult {
    const current = this.kv.revision;
    if (at > current) throw new FutureRevisionError(`revision ${at} is in the future (the current revision is ${current})`);
    const oldest = Math.max(this.watchHub.oldest - 1, this.kv.compactRevision);
    const changed = at < oldest ? null : this.watchHub.changesAfter(at, prefix);
    if (changed === null) throw new CompactedError(at, Math.max(oldest, this.kv.compactRevision));
    // limit + 1 unchanged current keys bound the answer; at most changed.size current keys are changed.
    const rows = new Map<string, KeyValue>();
    for (const kv of this.kv.rangeKvs(prefix, limit + 1 + changed.size)) if (!changed.has(kv.key)) rows.set(kv.key, kv);
    for (const [key, then] of changed) if (then !== null) rows.set(key, then);
    const keys = [...rows.keys()].sort();
    return { kvs: keys.slice(0, limit).map((k) => rows.get(k) as KeyValue), more: keys.length > limit, index: this.kv.appliedIndex, revision: at };
  }

  compact(req: { revision: number; session?: SessionRef }, signal: AbortSignal): Promise<{ compactRevision: number; index: number; revision: number }> {
    return this.track('Compact', 'write', async () => {
      const { result, index } = await this.propose({ op: 'compact', revision: req.revision, ...this.session(req.session) }, signal);
      this.checkResult(result);
      assert(result.op === 'compact', () => `compact applied as ${result.op}`);
      return { compactRevision: result.compactRevision, index, revision: result.revision };
    });
  }

  status(): Promise<StatusResult> {
    const st = this.core.status(this.now());
    const leader = st.leader ?? '';
    const leaderAddr = leader === '' ? undefined : this.cfg.clientAddrs.get(leader);
    return Promise.resolve({
      id: this.cfg.id,
      role: st.role === 'leader' ? 'leader' : st.role === 'follower' ? 'follower' : 'candidate',
      term: st.term,
      leader,
      leaderClientAddr: leaderAddr === undefined ? '' : formatHostPort(leaderAddr),
      commitIndex: st.commit,
      appliedIndex: this.kv.appliedIndex,
      leaseHeld: st.leaseHeld,
      leaseRemainingMs: Math.round(st.leaseRemainingMs),
      oldLeaseRemainingMs: Math.round(st.oldLeaseRemainingMs),
      members: this.membersView(),
      keys: this.kv.size,
      version: VERSION,
      revision: this.kv.revision,
      configIndex: st.confIndex,
      configCommitted: st.confCommitted,
    });
  }

  /**
   * The whole state for `leasekv snapshot save`, at a linearizable point: on the leader, after a lease
   * read or a ReadIndex round, so it holds every write acknowledged before the call. Encoded in
   * slices, copy-on-write, while the node goes on serving (docs/storage.md, "Backup file").
   */
  backup(signal: AbortSignal): Promise<BackupState> {
    return this.track('Backup', 'linearizable', async () => {
      await this.readBarrier('linearizable', signal);
      // Read in the same turn as snapshotAsync freezes the state: the data is at exactly this index.
      const index = this.kv.appliedIndex;
      const term = this.kv.appliedTerm;
      const keys = this.kv.size;
      const conf = this.core.confStateAt(index);
      return { index, term, keys, members: [...conf.voters, ...conf.learners], data: await this.kv.snapshotAsync() };
    });
  }

  /** False once the node stopped (a graceful stop, or a fatal storage error). */
  get running(): boolean {
    return !this.stopped;
  }

  /** The core's full status, for the dashboard and metrics. */
  /** Revisions, watchers and TTL grants (issue 14), for metrics and the dashboard. */
  coordStats(): { revision: number; watchers: number; watchOldestRevision: number; ttlGrants: number; ttlCounting: boolean } {
    return {
      revision: this.kv.revision,
      watchers: this.watchHub.watcherCount,
      watchOldestRevision: this.watchHub.oldest,
      ttlGrants: this.kv.ttlGrants().length,
      ttlCounting: this.ttlCountdowns.active,
    };
  }

  raftStatus(): ReturnType<RaftNode['status']> & { applied: number; nowMs: number } {
    const nowMs = this.now();
    return { ...this.core.status(nowMs), applied: this.kv.appliedIndex, nowMs };
  }

  // ---- stopping ---------------------------------------------------------------------------------

  /**
   * Graceful stop (docs/lease-notes.md case 7): a leader hands leadership to its most caught-up follower,
   * giving up its lease first, then waits (bounded) for the handover before the host closes things.
   */
  async handOver(maxWaitMs: number): Promise<void> {
    if (this.stopped) return; // after a storage error: nothing can be handed over
    const st = this.core.status(this.now());
    if (st.role !== 'leader') return;
    let best: string | null = null;
    let bestMatch = -1;
    for (const [id, pr] of Object.entries(st.progress)) {
      if (id !== this.cfg.id && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best === null) return;
    this.log.info({ target: best }, 'stopping: giving up the lease and transferring leadership');
    this.core.transferLeadership(best, this.now());
    this.schedule();
    const deadline = this.now() + maxWaitMs;
    while (this.now() < deadline && this.core.role === 'leader') {
      await new Promise((r) => setTimeout(r, 20));
    }
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
}

export interface BackupState {
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  /** The members (voters and learners) in force at `index`. */
  readonly members: readonly string[];
  /** The state machine's snapshot bytes (src/kv/snapshot.ts). */
  readonly data: Uint8Array;
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
