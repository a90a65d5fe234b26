// The node's drive loop: the one host of the consensus core, run by the server (src/server/node*.ts
// wires the real clock, persister and transport) and by the simulator (src/sim/node.ts wires
// simulated ones). It feeds the core its inputs, persists, sends, applies committed commands to the
// key-value state machine (src/kv) and resolves what they unblock (proposals, apply waiters, reads).
//
// THE ORDER (stated here once; src/raft/types.ts and docs/design.md point here). One drive per turn
// of the event loop, after any number of inputs (peer messages, proposals, reads, timer ticks):
//   1. tick(now); take rd = ready(now) — also while earlier Readies are still being persisted
//      (asynchronous storage writes, up to MAX_READIES_IN_FLIGHT; pipeline.ts), else go to 6;
//   2. send at once the messages that need no persistence (afterPersist false: heartbeats, the
//      leader's appends, read-round traffic);
//   3. apply rd.committedEntries (durable on a majority already: the leader counts its own copy only
//      once it is on its disk) and answer what they unblock — without waiting for this Ready's new
//      entries to be fsynced. Exception: a snapshot from the leader is restored first (step 5);
//   4. hand rd.snapshot, rd.entries and rd.hardState to the group-committing storage (durable in
//      call order; Readies handed over while an fsync runs share the next one); back to 1;
//   5. once durable, in the order the Readies were handed out: restore the received snapshot and
//      apply (if step 3 was deferred), send the afterPersist messages (votes, append
//      acknowledgements), advance(rd) — the persist acknowledgement that lets a leader count its own
//      entries — maybe take a snapshot;
//   6. at the pipeline's bound, or behind a snapshot from the leader (the core hands out nothing
//      after it until it is advanced): send takeUrgentMessages(now) (heartbeats and their acks never
//      wait behind the disk, so a slow fsync cannot cost a leader its lease, docs/lease-notes.md
//      case 10); other inputs wait in the core for the next Ready.
// Then the timer is armed for nextTickAtMs().

import { RaftNode } from '../raft/node.ts';
import { EntryType } from '../raft/types.ts';
import type { Entry, LogRead, Message, RaftEvent, Ready, SnapshotRequest } from '../raft/types.ts';
import type { ApplyResult, KvStateMachine } from '../kv/machine.ts';
import { encodeCommand } from '../kv/command.ts';
import { ApplyQueue, ProposalTable, ReadTable } from './waiters.ts';
import { TtlCountdowns } from './ttl-countdowns.ts';
import { InOrderCompletions, MAX_READIES_IN_FLIGHT } from './pipeline.ts';
import type {
  HostClock,
  HostConfig,
  HostLog,
  HostStorage,
  HostTransport,
  KvSlicer,
  ReceivedSnapshot,
  RestoredState,
  SnapshotData,
} from './types.ts';
import type { ReceivedSnapshotData } from '../transport/spool.ts';
import { assert } from '../util/assert.ts';
import { rootMessage } from './root-message.ts';

export interface HostParts {
  readonly config: HostConfig;
  readonly kv: KvStateMachine;
  readonly clock: HostClock;
  readonly storage: HostStorage;
  readonly transport: HostTransport;
  readonly slicer: KvSlicer;
  readonly log: HostLog;
  readonly restored: RestoredState;
}

export abstract class HostDrive {
  protected readonly core: RaftNode;
  protected readonly hc: HostConfig;
  protected readonly kv: KvStateMachine;
  protected readonly clock: HostClock;
  protected readonly storage: HostStorage;
  protected readonly transport: HostTransport;
  protected readonly slicer: KvSlicer;
  protected readonly log: HostLog;
  protected readonly proposals = new ProposalTable();
  protected readonly applyWaiters = new ApplyQueue();
  protected readonly reads = new ReadTable();
  protected scheduled = false;
  /** Completions of the Readies handed to storage, run in the order handed out (step 5). */
  protected readonly completions = new InOrderCompletions();
  protected timer: unknown = null;
  private timerAtMs = 0;
  protected stopped = false;
  protected wasLeader = false;
  protected lastHeardFromLeaderMs = Number.NEGATIVE_INFINITY;
  protected lastSnapshotIndex: number;
  protected snapshotting = false;
  /** Snapshots received, by index, until one is installed (a second may come before the first's Ready). */
  protected readonly incomingSnapshots = new Map<number, ReceivedSnapshot>();
  /** The last snapshot read from disk to send to followers (dropped when a newer one is taken). */
  protected outgoingSnapshot: SnapshotData | null = null;
  protected readonly snapshotLoading = new Set<string>();
  /** The leader's countdowns for TTL grants (ttl-countdowns.ts); idle on followers. */
  readonly ttlCountdowns: TtlCountdowns;

  constructor(p: HostParts) {
    this.hc = p.config;
    this.kv = p.kv;
    this.clock = p.clock;
    this.storage = p.storage;
    this.transport = p.transport;
    this.slicer = p.slicer;
    this.log = p.log;
    const restored = p.restored;
    this.lastSnapshotIndex = restored.snapshot?.index ?? 0;
    this.core = new RaftNode({
      config: p.config.raft,
      random: p.config.random,
      nowMs: this.now(),
      ...(restored.fresh
        ? {}
        : { restored: { hardState: restored.hardState, snapshot: restored.snapshot, entries: restored.entries } }),
    });
    p.transport.onMessage((msg) => this.onPeerMessage(msg));
    p.transport.onSnapshot((msg, data) => this.onPeerSnapshot(msg, data));
    this.ttlCountdowns = new TtlCountdowns(p.config.maxClockDriftRate, p.config.mutant);
    p.kv.ttlObserver = (e) =>
      e.kind === 'granted' ? this.ttlCountdowns.restart(e.id, e.ttlMs, this.now()) : this.ttlCountdowns.ended(e.id);
  }

  // ---- what the wiring supplies -----------------------------------------------------------------

  /** A follower's answer to a request only the leader serves. */
  protected abstract notLeader(hint: string | null): Error;
  /** Another entry took a proposal's index: it did not happen and never will (the client retries). */
  protected abstract writeLost(): Error;
  /** The write may or may not be applied (leadership lost, node stopped). */
  protected abstract outcomeUnknown(msg: string): Error;
  protected abstract unavailable(msg: string): Error;

  /** The core's events, as they come out of a Ready (atMs: this node's clock). */
  protected onRaftEvents(_events: readonly RaftEvent[], _atMs: number): void {}
  /** One committed entry applied to the state machine (result null: no command, e.g. a Noop). */
  protected onApplied(_e: Entry, _result: ApplyResult | null): void {}
  /** The state machine jumped to a snapshot from the leader (what it skipped was never applied here). */
  protected onSnapshotInstalled(): void {}
  /** A ConfChange entry was appended to this node's log (a change is in force once appended). */
  protected onConfEntry(_e: Entry): void {}
  /** A storage error stopped the node. */
  protected onFatal(_err: unknown): void {}

  /** Monotonic milliseconds (docs/lease-notes.md case 3): never wall-clock time. */
  now(): number {
    return this.clock.now();
  }

  start(): void {
    this.schedule();
  }

  /** False once the node stopped (a graceful stop, or a fatal storage error). */
  get running(): boolean {
    return !this.stopped;
  }

  // ---- the drive loop (the order: see the header) -----------------------------------------------

  protected schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.defer(() => this.drive());
  }

  protected armTimer(): void {
    if (this.stopped) return;
    const now = this.now();
    // Only a leader has work nextTickAtMs leaves out (TTL countdowns); session 9: a follower wakes ~1/s, not 20/s.
    const capMs = this.core.role === 'leader' ? this.hc.heartbeatIntervalMs : 60_000; // a timer < 2^31 ms
    const atMs = now + Math.ceil(Math.max(1, Math.min(this.core.nextTickAtMs() - now, capMs)));
    // A timer that fires no later is kept: an early wake-up only drives (and re-arms) once more.
    if (this.timer !== null && this.timerAtMs <= atMs) return;
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timerAtMs = atMs;
    this.timer = this.clock.after(atMs - now, () => {
      this.timer = null;
      this.schedule();
    });
  }

  protected drive(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const now = this.now();
    this.core.tick(now);
    this.tickTtls(now);
    // Steps 1–4 for every Ready the core has, while fewer than the bound are unpersisted. (A Ready
    // that needs no persistence completes inside handleReady, and advance() reads a later clock:
    // each ready() reads the clock afresh.)
    while (this.core.readiesInFlight() < MAX_READIES_IN_FLIGHT) {
      const rd = this.core.ready(this.now());
      if (rd === null) break;
      this.handleReady(rd);
      if (this.stopped) return;
    }
    if (this.core.readiesInFlight() > 0) {
      // Step 6: heartbeats and their acks leave now whatever the disk is doing.
      const urgent = this.core.takeUrgentMessages(this.now());
      if (urgent.length > 0) this.send(urgent.map((o) => o.msg));
    }
    this.armTimer();
  }

  protected handleReady(rd: Ready): void {
    // A change is in force once appended: the transport must know a new member before the first
    // message to it leaves (the membership listener adds its address).
    for (const e of rd.entries) if (e.type === EntryType.ConfChange) this.onConfEntry(e);
    const later: Message[] = [];
    const now: Message[] = [];
    // MUTANT ack-before-fsync: a follower's append acknowledgement leaves before its entries are durable.
    const early = this.hc.mutant === 'ack-before-fsync';
    for (const o of rd.messages) (o.afterPersist && !(early && o.msg.type === 'appResp') ? later : now).push(o.msg);
    this.send(now); // step 2
    for (const r of rd.logReads) this.readLog(r); // entries past the core's window (snapshots.ts)
    const snapshot = rd.snapshot === null ? null : (this.incomingSnapshots.get(rd.snapshot.index) ?? null);
    assert(
      rd.snapshot === null || snapshot !== null,
      () => `core installed snapshot ${rd.snapshot?.index} that the host never received`,
    );
    if (snapshot === null) this.applyReady(rd); // step 3
    const finish = (): void => {
      if (snapshot !== null) this.installed(snapshot);
      if (this.stopped) return;
      if (snapshot !== null) {
        this.onSnapshotInstalled();
        this.applyReady(rd);
      }
      this.completeReady(rd, later, snapshot); // step 5
      this.schedule();
    };
    if (rd.entries.length === 0 && rd.hardState === null && snapshot === null) {
      // Nothing to persist: done once every Ready handed out before it is (at once if none is).
      this.completions.add(finish)();
      return;
    }
    // Step 4. A snapshot from the leader is decoded in slices (heartbeats keep flowing) while it is
    // saved; the core hands out no Ready after it until it is advanced, so nothing is applied on top.
    const durable = this.completions.add(finish);
    let waiting = snapshot === null ? 1 : 2;
    let failed = false;
    const done = (err: unknown): void => {
      if (failed) return;
      if (err !== null && err !== undefined) {
        failed = true;
        this.fatal('persisting to the write-ahead log', err);
        return;
      }
      if (--waiting === 0) durable();
    };
    if (snapshot !== null) this.slicer.restore(this.installing(snapshot), done);
    this.storage.persist({ entries: rd.entries, hardState: rd.hardState, snapshot, sync: rd.mustSync }, done);
  }

  /** Applies committed entries, answers what they and the read states unblock, reports events. */
  protected applyReady(rd: Ready): void {
    // MUTANT apply-uncommitted: the new entries are applied as they are appended, before they commit.
    if (this.hc.mutant === 'apply-uncommitted') for (const e of rd.entries) this.applyEntry(e);
    for (const e of rd.committedEntries) this.applyEntry(e);
    this.applyWaiters.release(this.kv.appliedIndex);
    for (const rs of rd.readStates) this.reads.resolve(rs.requestId, rs.index);
    for (const rf of rd.readFailures) this.reads.reject(rf.requestId, this.notLeader(rf.leaderHint));
    const atMs = this.now();
    for (const e of rd.events) {
      // A leader renewing its lease is the leader this node last heard from: after it steps down,
      // its stale reads are as old as its last renewal (not "never heard", not 0).
      if (e.kind === 'lease-acquired' || e.kind === 'lease-renewed') this.lastHeardFromLeaderMs = atMs;
    }
    if (rd.events.length > 0) this.onRaftEvents(rd.events, atMs);
  }

  private applyEntry(e: Entry): void {
    // At or below the applied index: covered by a restored snapshot (or, mutant, applied early).
    if (e.index !== this.kv.appliedIndex + 1) return;
    const result = this.kv.apply(e);
    this.onApplied(e, result);
    this.proposals.applied(e.index, e.term, result, () => this.writeLost());
  }

  /** After the Ready's persistence: acknowledgements and votes leave, the core moves on. */
  protected completeReady(rd: Ready, later: Message[], snapshot: ReceivedSnapshot | null): void {
    this.send(later);
    if (snapshot !== null) {
      this.lastSnapshotIndex = snapshot.meta.index;
      for (const i of [...this.incomingSnapshots.keys()]) if (i <= snapshot.meta.index) this.dropIncoming(i);
      this.log.info({ index: snapshot.meta.index, term: snapshot.meta.term }, 'installed snapshot from leader');
    }
    this.core.advance(rd, this.now());
    this.noticeRoleChange();
    this.maybeSnapshot();
  }

  protected noticeRoleChange(): void {
    const isLeader = this.core.role === 'leader';
    if (this.wasLeader && !isLeader) {
      // Proposals in flight may still commit under the next leader: their outcome is unknown.
      // Clients retry with the same session, which makes that safe (exactly-once).
      this.proposals.failAll(() =>
        this.outcomeUnknown('leadership lost while the write was in flight; it may or may not have been applied'),
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

  // ---- TTL grants -------------------------------------------------------------------------------

  /**
   * The leader's TTL countdowns: started in full once it may serve lease reads (lease reads off: an
   * entry of its term is applied), stopped once not leader or handing over (no expire can be proposed
   * then); a due grant is expired through the log (docs/lease-safety.md, "TTL grants").
   */
  protected tickTtls(now: number): void {
    const c = this.ttlCountdowns;
    if (this.core.role !== 'leader' || this.core.transferTarget !== null) {
      if (c.active) c.stop();
      return;
    }
    if (!c.active) {
      const ready = this.hc.leaseReads
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

  /**
   * A storage error (disk full, I/O error): a failed write or fsync cannot be retried safely, so the
   * node stops. Requests in flight are answered now — writes with outcome unknown (the entry may be
   * on a majority's disks and commit under the next leader), reads unavailable (docs/storage.md,
   * "Storage errors").
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
    this.onFatal(err);
  }

  stop(writeOutcome = 'node stopped while the write was in flight; it may or may not have been applied'): void {
    this.stopped = true;
    for (const i of [...this.incomingSnapshots.keys()]) this.dropIncoming(i);
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
    // A write handed to the log may still commit under the next leader.
    this.proposals.failAll(() => this.outcomeUnknown(writeOutcome));
    this.reads.failAll(() => this.unavailable('node stopped'));
    this.applyWaiters.failAll(() => this.unavailable('node stopped'));
  }

  /** Reads entries past the core's window back from storage for a follower (snapshots.ts). */
  protected abstract readLog(r: LogRead): void;

  /** Sends a snapshot to a follower (snapshots.ts). */
  protected abstract sendSnapshot(msg: SnapshotRequest): void;

  /** Takes a snapshot when enough entries were applied (snapshots.ts). */
  protected abstract maybeSnapshot(): void;
  /** A snapshot received from the leader, dropped, its install begun (its data kept until installed) (snapshots.ts). */
  protected abstract onPeerSnapshot(msg: SnapshotRequest, data: ReceivedSnapshotData): void;
  protected abstract dropIncoming(index: number): void;
  protected abstract installing(s: ReceivedSnapshot): ReceivedSnapshotData;
  protected abstract installed(s: ReceivedSnapshot): void;
}
