// The state every role shares, the outbox, and the Ready/advance bookkeeping.
// Role modules (election.ts, leader.ts, membership.ts, reads.ts, votes.ts, roles.ts, replication.ts)
// mutate it; RaftNode exposes it.
import type { RaftConfig } from './config.ts';
import { majority, sameConf } from './confchange.ts';
import { LeaderLease, observerSpan } from './lease.ts';
import { AssertionError, assert } from '../util/assert.ts';
import { RaftLog } from './log.ts';
import type { Progress } from './progress.ts';
import type {
  ConfState,
  Entry,
  HardState,
  LogRead,
  Message,
  NodeId,
  Outgoing,
  RaftEvent,
  Random,
  ReadFailure,
  ReadState,
  Ready,
  Role,
  SnapshotMeta,
} from './types.ts';

export interface PendingRead {
  readonly requestId: number;
  /** Commit index when the read arrived. */
  readonly index: number;
  /** The first heartbeat round sent after the read arrived; a majority must acknowledge it. */
  readonly minRound: number;
}

export type StepFn = (c: Core, m: Message, nowMs: number) => void;
export type TickFn = (c: Core, nowMs: number) => void;
export interface RoleFns {
  readonly step: StepFn;
  readonly tick: TickFn;
}

export class Core {
  readonly log: RaftLog;
  /** ConfHistory version last looked at, and the configuration last reported in a 'config' event. */
  private seenConfVersion = -1;
  private reportedConf: ConfState | null = null;

  // Persistent state (Raft Figure 2). Changes reach the host through Ready.hardState.
  term = 0;
  votedFor: NodeId | null = null;

  role: Role = 'follower';
  leader: NodeId | null = null;
  stepRole: StepFn = () => {};
  tickRole: TickFn = () => {};
  /**
   * The follower's step and tick (election.ts), wired by RaftNode. Every role falls back to
   * follower (roles.ts), far below the module that defines how a follower behaves — which itself
   * leads up to candidate and leader; this one late binding keeps the role modules acyclic.
   */
  followerRole: RoleFns = { step: () => {}, tick: () => {} };
  private lastNowMs: number;

  // Follower/candidate timers.
  electionDeadlineMs = Number.POSITIVE_INFINITY;

  // What this node believes about other leaders' leases (on its own clock, already lengthened).
  oldLeaseUntilMs = Number.NEGATIVE_INFINITY;
  oldLeaseLeader: NodeId | null = null;
  oldLeaseTerm = 0;
  /**
   * A restarted node forgot every lease it knew. It casts no vote (and does not campaign) until
   * any lease it could have acknowledged before the crash has certainly expired:
   * construction time + leaseDurationMs·(1+ρ). See docs/lease-safety.md §"Restarts".
   */
  readonly restartHoldUntilMs: number;

  // Candidate state.
  readonly votes = new Map<NodeId, boolean>();
  /** Own clock: when every lease reported by granting voters (and our own belief) has expired. */
  candidateWaitUntilMs = Number.NEGATIVE_INFINITY;

  // Leader state.
  readonly progress = new Map<NodeId, Progress>();
  lease: LeaderLease | null = null;
  noopIndex = 0;
  heartbeatDeadlineMs = Number.POSITIVE_INFINITY;
  checkQuorumDeadlineMs = Number.POSITIVE_INFINITY;
  transferTarget: NodeId | null = null;
  transferDeadlineMs = Number.POSITIVE_INFINITY;
  transferSent = false;
  pendingReads: PendingRead[] = [];
  /**
   * The first heartbeat round sent after this leader's latest configuration change: a majority of
   * the new configuration must acknowledge it (re-confirming the lease there) before the next change.
   */
  confRound = 0;
  /** Round started for reads and not yet acknowledged by a majority (0 = none). */
  readRoundInFlight = 0;
  lastReportedLeaseUntilMs = Number.NEGATIVE_INFINITY;

  /** Proposals appended entries that no AppendRequest carries yet (replication.ts, flushAppends). */
  appendsPending = false;
  /**
   * When the oldest proposal some follower has not been sent was made (+∞: none waiting); a hold
   * (cfg.appendHoldMs) ends at this plus the hold, whatever else arrived since.
   */
  appendsWaitingSinceMs = Number.POSITIVE_INFINITY;

  // Outbox, drained by ready().
  msgs: Outgoing[] = [];
  events: RaftEvent[] = [];
  readStates: ReadState[] = [];
  readFailures: ReadFailure[] = [];
  logReads: LogRead[] = [];
  pendingSnapshot: SnapshotMeta | null = null;
  /** The hard state last handed to the host (in a Ready): the next Ready carries one only if it changed. */
  private handedOut: HardState;
  /**
   * Readies handed out and not yet advanced, oldest first. The host may take a new Ready while
   * earlier ones are being persisted (asynchronous storage writes, as in etcd-io/raft), provided it
   * persists them in order and advances them in that order (docs/design.md, "The drive loop").
   */
  private readonly inFlight: Ready[] = [];

  constructor(
    readonly cfg: RaftConfig,
    readonly random: Random,
    nowMs: number,
    restored: { hardState: HardState; snapshot: SnapshotMeta | null; entries: readonly Entry[] } | null,
  ) {
    assert(Number.isFinite(nowMs), 'nowMs must be finite');
    this.lastNowMs = nowMs;
    const bootstrap: ConfState = { voters: cfg.members, learners: cfg.learners };
    if (restored === null) {
      this.log = new RaftLog(bootstrap);
      this.handedOut = { term: 0, votedFor: null, commit: 0 };
      this.restartHoldUntilMs = Number.NEGATIVE_INFINITY;
    } else {
      // The configuration comes from the snapshot and the log; `bootstrap` only if they hold none.
      this.log = RaftLog.restore(restored.snapshot, restored.entries, restored.hardState.commit, bootstrap);
      this.term = restored.hardState.term;
      this.votedFor = restored.hardState.votedFor;
      this.handedOut = restored.hardState;
      this.restartHoldUntilMs = nowMs + observerSpan(cfg, cfg.leaseDurationMs);
    }
    this.seenConfVersion = this.log.conf.version;
    this.reportedConf = this.log.conf.current();
  }

  /** The configuration in force: the latest in the log, committed or not (single-server changes). */
  conf(): ConfState {
    return this.log.conf.current();
  }

  voters(): readonly NodeId[] {
    return this.log.conf.current().voters;
  }

  isVoter(id: NodeId = this.cfg.id): boolean {
    return this.log.conf.current().voters.includes(id);
  }

  isMember(id: NodeId = this.cfg.id): boolean {
    const cs = this.log.conf.current();
    return cs.voters.includes(id) || cs.learners.includes(id);
  }

  /** Votes (self included) that make a majority of the voters in force. */
  quorum(): number {
    return majority(this.voters());
  }

  /** Reports a configuration change (event 'config') once; true if there was one. */
  noteConf(): boolean {
    const h = this.log.conf;
    if (h.version === this.seenConfVersion) return false;
    this.seenConfVersion = h.version;
    const cs = h.current();
    // A snapshot install resets the history without (necessarily) changing the configuration.
    if (this.reportedConf !== null && sameConf(this.reportedConf, cs)) return false;
    this.reportedConf = cs;
    this.event({
      kind: 'config',
      index: h.lastChangeIndex(),
      voters: cs.voters.join(','),
      learners: cs.learners.join(','),
    });
    return true;
  }

  /** The latest time a host passed in (for bookkeeping that is not on a caller's path with `nowMs`). */
  nowMs(): number {
    return this.lastNowMs;
  }

  /** Hosts pass monotonic time; going backwards is a host bug (and would break every lease). */
  observe(nowMs: number): void {
    // (An explicit branch, not assert(): this runs on every call and must not build a message.)
    if (!(nowMs >= this.lastNowMs) || !Number.isFinite(nowMs))
      throw new AssertionError(`time went backwards: ${nowMs} < ${this.lastNowMs}`);
    this.lastNowMs = nowMs;
  }

  send(msg: Message, afterPersist: boolean): void {
    this.msgs.push({ msg, afterPersist });
  }

  event(e: RaftEvent): void {
    this.events.push(e);
  }

  inRestartHold(nowMs: number): boolean {
    return nowMs < this.restartHoldUntilMs;
  }

  resetElectionTimer(nowMs: number): void {
    const { electionTimeoutMinMs: lo, electionTimeoutMaxMs: hi } = this.cfg;
    const r = this.random();
    if (!(r >= 0 && r < 1)) throw new AssertionError(`random() returned ${r}, expected [0, 1)`);
    this.electionDeadlineMs = nowMs + lo + Math.floor(r * (hi - lo));
  }

  /** The lease this node claims in outgoing AppendRequests: none once given up for a transfer. */
  claimedLeaseMs(): number {
    return this.lease !== null && this.lease.givenUp ? 0 : this.cfg.leaseDurationMs;
  }

  nextTickAtMs(): number {
    if (this.role !== 'leader') return this.electionDeadlineMs;
    let t = Math.min(this.heartbeatDeadlineMs, this.checkQuorumDeadlineMs, this.transferDeadlineMs);
    // Held appends leave by the end of their hold (replication.ts, holdAppends).
    if (this.appendsPending && this.cfg.appendHoldMs > 0)
      t = Math.min(t, this.appendsWaitingSinceMs + this.cfg.appendHoldMs);
    const l = this.lease;
    if (l !== null && !l.givenUp) {
      if (l.acquired) t = Math.min(t, l.untilMs);
      else if (l.untilMs > l.waitUntilMs) t = Math.min(t, l.waitUntilMs);
    }
    return t;
  }

  /** Readies handed out and not yet advanced. */
  readiesInFlight(): number {
    return this.inFlight.length;
  }

  ready(): Ready | null {
    // Nothing may follow a snapshot from the leader until the host has restored it: the entries
    // after it, and the committed entries to apply on top of it, wait for its advance().
    if (this.inFlight.some((r) => r.snapshot !== null)) return null;
    const hs: HardState = { term: this.term, votedFor: this.votedFor, commit: this.log.committed };
    const p = this.handedOut;
    const voteChanged = hs.term !== p.term || hs.votedFor !== p.votedFor;
    const hardState = voteChanged || hs.commit !== p.commit ? hs : null;
    const entries = this.log.unstableEntries();
    const snapshot = this.pendingSnapshot;
    const committedEntries = this.log.nextCommitted();
    if (
      hardState === null &&
      entries.length === 0 &&
      snapshot === null &&
      committedEntries.length === 0 &&
      this.msgs.length === 0 &&
      this.events.length === 0 &&
      this.readStates.length === 0 &&
      this.readFailures.length === 0 &&
      this.logReads.length === 0
    ) {
      return null;
    }
    const rd: Ready = {
      hardState,
      entries,
      snapshot,
      // A commit-index-only change need not be fsynced: commit is recoverable from the leader.
      mustSync: voteChanged || entries.length > 0 || snapshot !== null,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
      readFailures: this.readFailures,
      events: this.events,
      logReads: this.logReads,
    };
    this.msgs = [];
    this.logReads = [];
    this.events = [];
    this.readStates = [];
    this.readFailures = [];
    this.pendingSnapshot = null;
    const lastApplied = committedEntries[committedEntries.length - 1];
    if (lastApplied !== undefined) {
      this.log.applied = lastApplied.index;
      this.log.trimWindow(this.cfg.logWindowBytes);
    }
    if (hardState !== null) this.handedOut = hardState;
    const lastEntry = entries[entries.length - 1];
    if (lastEntry !== undefined) this.log.inProgress = lastEntry.index;
    this.inFlight.push(rd);
    return rd;
  }

  /**
   * Messages that need no persistence (afterPersist = false: heartbeats and their acks, the leader's
   * appends, pre-votes), taken out of the outbox while a Ready is still being persisted, so that a
   * slow disk never holds up lease renewal (docs/lease-notes.md case 10). Everything else stays queued, in
   * order, for the next Ready. Safe because such a message never claims what is not yet durable
   * (a heartbeat ack reports at most `stabled`).
   */
  takeUrgentMessages(): Outgoing[] {
    if (this.msgs.length === 0) return [];
    const urgent: Outgoing[] = [];
    const rest: Outgoing[] = [];
    for (const o of this.msgs) (o.afterPersist ? rest : urgent).push(o);
    this.msgs = rest;
    return urgent;
  }

  /**
   * The host persisted `rd` (and fsynced if asked), and every Ready handed out before it. Returns
   * true if the stable index moved: that is the persist acknowledgement that lets a leader count its
   * own copy toward commit, exactly like a follower's AppendResponse.
   */
  advance(rd: Ready): boolean {
    assert(this.inFlight.length > 0, 'advance() without a ready()');
    assert(
      this.inFlight[0] === rd,
      'advance() out of order: Readies are persisted and advanced in the order handed out',
    );
    this.inFlight.shift();
    const before = this.log.stabled;
    if (rd.snapshot !== null) this.log.stabled = Math.max(this.log.stabled, rd.snapshot.index);
    const last = rd.entries[rd.entries.length - 1];
    // If the log was rewritten at `last` since ready() (a host that broke the loop), keep stabled.
    if (last !== undefined && this.log.term(last.index) === last.term) {
      this.log.stabled = Math.max(this.log.stabled, last.index);
    }
    if (this.log.stabled > before) this.log.trimWindow(this.cfg.logWindowBytes);
    return this.log.stabled > before;
  }
}
