// RaftNode: the consensus core's public face. A pure state machine (see types.ts for the host loop).
//
// Role behaviour lives in per-role step and tick functions swapped on transitions, as in
// etcd-io/raft: becomeLeader sets `stepRole = stepLeader` and `tickRole = tickLeader`. The role
// logic is split along its real seams, each module importing only those above it in this list
// (the lint rejects import cycles):
//   election.ts     campaigns, PreVote, the candidate's old-lease wait, the follower's role
//   leader.ts       becoming leader, CheckQuorum, lease upkeep, AppendResponses, commit, transfer
//   membership.ts   configuration changes at the leader
//   reads.ts        heartbeat rounds, the lease they renew, lease reads and ReadIndex
//   votes.ts        answering (pre-)vote requests, in every role
//   roles.ts        the fall back to follower, from any role
//   replication.ts  the leader's AppendRequests, flow control, follower append handling
// All of them operate on the shared state in core.ts. The follower's step and tick are wired into
// the core here (`followerRole`), so that roles.ts need not import election.ts, which imports it.
import { validateRaftConfig } from './config.ts';
import type { RaftConfig } from './config.ts';
import { Core } from './core.ts';
import { assert } from '../util/assert.ts';
import { stepFollower, stepMessage, tickElection } from './election.ts';
import { entriesRead, flushAppends, proposeEntries } from './replication.ts';
import { leaseRead, readIndex } from './reads.ts';
import { maybeCommit, transferLeadership } from './leader.ts';
import { becomeFollower } from './roles.ts';
import { proposeConfChange } from './membership.ts';
import type { ConfChangeResult } from './membership.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  LogRead,
  Message,
  NodeId,
  Outgoing,
  ProposeResult,
  Random,
  Ready,
  Role,
  SnapshotMeta,
} from './types.ts';

export interface RaftNodeOptions {
  readonly config: RaftConfig;
  readonly random: Random;
  readonly nowMs: number;
  /** What the host recovered from disk. Present means "this is a restart": see the restart hold. */
  readonly restored?: {
    readonly hardState: HardState;
    readonly snapshot: SnapshotMeta | null;
    readonly entries: readonly Entry[];
  };
}

export type { ProposeResult } from './types.ts';

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly votedFor: NodeId | null;
  readonly commit: number;
  readonly lastIndex: number;
  readonly leaseHeld: boolean;
  /** This leader's lease, ms left on its own clock (0 when not held). */
  readonly leaseRemainingMs: number;
  /** The longest lease of some (other) leader this node believes may still run, ms on its clock. */
  readonly oldLeaseRemainingMs: number;
  /** Leader only: still waiting for the previous leader's lease to expire. */
  readonly waitingForOldLease: boolean;
  /** Restarted node: votes are held for this much longer. */
  readonly restartHoldRemainingMs: number;
  readonly transferTarget: NodeId | null;
  /** The configuration in force (the latest in this node's log, committed or not). */
  readonly confState: ConfState;
  /** Index of the latest ConfChange entry in the log, and whether it is committed. */
  readonly confIndex: number;
  readonly confCommitted: boolean;
  readonly progress: Readonly<
    Record<NodeId, { readonly match: number; readonly next: number; readonly state: string }>
  >;
}

export class RaftNode {
  private readonly c: Core;

  constructor(opts: RaftNodeOptions) {
    const cfg = validateRaftConfig(opts.config);
    this.c = new Core(cfg, opts.random, opts.nowMs, opts.restored ?? null);
    this.c.followerRole = { step: stepFollower, tick: tickElection };
    becomeFollower(this.c, this.c.term, null, opts.nowMs);
  }

  get id(): NodeId {
    return this.c.cfg.id;
  }

  /** Cheap accessors for hosts' hot paths (status() builds a whole report). */
  get role(): Role {
    return this.c.role;
  }

  get term(): number {
    return this.c.term;
  }

  /** The voter leadership is being handed to (no proposals meanwhile), else null. */
  get transferTarget(): NodeId | null {
    return this.c.transferTarget;
  }

  /** Election timers, heartbeats, CheckQuorum, lease expiry. May be called at any rate. */
  tick(nowMs: number): void {
    this.c.observe(nowMs);
    this.c.tickRole(this.c, nowMs);
  }

  /** The earliest time at which tick() would do something. */
  nextTickAtMs(): number {
    return this.c.nextTickAtMs();
  }

  /** Feeds a message from a peer. Malformed input and unknown senders are dropped, never thrown. */
  step(msg: Message, nowMs: number): void {
    this.c.observe(nowMs);
    stepMessage(this.c, msg, nowMs);
    this.c.noteConf();
  }

  /**
   * Proposes one membership change (single-server; see membership.ts for the rules and the
   * refusals). On success the change is in force at once and commits like any entry; the host sees
   * it in Ready.committedEntries (EntryType.ConfChange, decodeConfChange). `force` overrides only
   * 'would-lose-quorum'.
   */
  proposeConfChange(cc: ConfChange, nowMs: number, opts: { readonly force?: boolean } = {}): ConfChangeResult {
    this.c.observe(nowMs);
    return proposeConfChange(this.c, cc, nowMs, opts.force === true);
  }

  /** The configuration in force now. */
  confState(): ConfState {
    return this.c.conf();
  }

  /** The configuration in force at `index` (>= the snapshot index), for a snapshot taken there. */
  confStateAt(index: number): ConfState {
    return this.c.log.conf.at(index);
  }

  propose(data: Uint8Array, nowMs: number): ProposeResult {
    this.c.observe(nowMs);
    return proposeEntries(this.c, [data]);
  }

  /** Appends several commands as consecutive entries; `index` is the first one's. */
  proposeBatch(data: readonly Uint8Array[], nowMs: number): ProposeResult {
    this.c.observe(nowMs);
    assert(data.length > 0, 'proposeBatch of nothing');
    return proposeEntries(this.c, data);
  }

  /**
   * The fast path: the commit index to serve a read at if this node is leader, holds a valid lease
   * at `nowMs` (the time of serving — a stalled process notices here, not at its next tick) and has
   * committed an entry of its term; else null. The host answers once applied >= the index.
   * Allocates nothing.
   */
  leaseRead(nowMs: number): number | null {
    return leaseRead(this.c, nowMs);
  }

  /**
   * Until when (this node's clock) leaseRead keeps answering unless this node takes a step: the
   * lease's end if leaseRead(nowMs) answers, else 0. Only a step (stepping down, giving the lease up
   * for a transfer) ends it sooner; the lease itself never shrinks (docs/lease-safety.md, step 2).
   * For a serving thread that reads it from shared memory (docs/design.md, "Threads").
   */
  leaseReadUntil(nowMs: number): number {
    return leaseRead(this.c, nowMs) === null || this.c.lease === null ? 0 : this.c.lease.untilMs;
  }

  /** ReadIndex (thesis §6.4); the answer arrives in Ready.readStates or Ready.readFailures. */
  /**
   * ReadIndex (thesis §6.4). Answered at once when a lease read would be valid, unless `useLease`
   * is false: then always after a heartbeat round a majority acknowledged.
   */
  readIndex(requestId: number, nowMs: number, useLease = true): void {
    this.c.observe(nowMs);
    readIndex(this.c, requestId, nowMs, useLease);
  }

  /**
   * Gives up the lease, brings `target` up to date, sends it TimeoutNow. False if not possible:
   * not leader, or the target is not a caught-up voter (null: the most caught-up voter).
   */
  transferLeadership(target: NodeId | null, nowMs: number): boolean {
    this.c.observe(nowMs);
    return transferLeadership(this.c, target, nowMs);
  }

  /**
   * The host's answer to one of Ready.logReads: the entries read from its log (a prefix of [lo, hi]
   * starting at lo), or null if they are gone. Sent to the follower only if still wanted (stale
   * answers are dropped; see replication.ts, entriesRead).
   */
  entriesRead(read: LogRead, entries: readonly Entry[] | null, nowMs: number): void {
    this.c.observe(nowMs);
    entriesRead(this.c, read, entries);
  }

  /** The host took a snapshot at `index` (<= applied): the log prefix up to it is dropped. */
  compact(index: number): void {
    this.c.log.compact(index);
  }

  /**
   * What the core wants done (types.ts, Ready). May be called again before the previous Ready is
   * advanced (asynchronous storage writes): the host then persists the Readies in the order handed
   * out and advances them in that order. Returns null while a Ready carrying a snapshot from the
   * leader is in flight (nothing follows a snapshot until it is restored).
   */
  ready(nowMs: number): Ready | null {
    this.c.observe(nowMs);
    flushAppends(this.c);
    return this.c.ready();
  }

  /** Readies handed out by ready() and not yet advanced (a host bounds its pipeline with this). */
  readiesInFlight(): number {
    return this.c.readiesInFlight();
  }

  /**
   * While the host is persisting a Ready: the queued messages that may leave at once (see
   * Core.takeUrgentMessages). Optional for hosts; the simulator and tests may ignore it.
   */
  takeUrgentMessages(nowMs: number): Outgoing[] {
    this.c.observe(nowMs);
    flushAppends(this.c);
    return this.c.takeUrgentMessages();
  }

  /**
   * `rd` (and every Ready handed out before it) is persisted. This is the persist acknowledgement:
   * the stable index moves, and a leader, which counts its own copy toward commit only once it is
   * stable, may commit now — its own entries are counted like anyone's, once durable.
   */
  advance(rd: Ready, nowMs: number): void {
    this.c.observe(nowMs);
    // The leader counts its own copy only once stable, so commit may move now.
    if (this.c.advance(rd) && this.c.role === 'leader') maybeCommit(this.c, nowMs);
  }

  isLeaseValid(nowMs: number): boolean {
    const c = this.c;
    return c.role === 'leader' && c.lease !== null && c.lease.isValid(nowMs);
  }

  status(nowMs: number): RaftStatus {
    const c = this.c;
    const progress: Record<NodeId, { match: number; next: number; state: string }> = {};
    for (const [id, pr] of c.progress) progress[id] = { match: pr.match, next: pr.next, state: pr.state };
    const lease = c.role === 'leader' ? c.lease : null;
    const held = lease !== null && lease.isValid(nowMs);
    return {
      id: c.cfg.id,
      role: c.role,
      term: c.term,
      leader: c.leader,
      votedFor: c.votedFor,
      commit: c.log.committed,
      lastIndex: c.log.lastIndex(),
      leaseHeld: held,
      leaseRemainingMs: held ? lease.untilMs - nowMs : 0,
      oldLeaseRemainingMs: Math.max(0, c.oldLeaseUntilMs - nowMs),
      waitingForOldLease: lease !== null && nowMs < lease.waitUntilMs,
      restartHoldRemainingMs: Math.max(0, c.restartHoldUntilMs - nowMs),
      transferTarget: c.transferTarget,
      confState: c.conf(),
      confIndex: c.log.conf.lastChangeIndex(),
      confCommitted: c.log.conf.lastChangeIndex() <= c.log.committed,
      progress,
    };
  }
}
