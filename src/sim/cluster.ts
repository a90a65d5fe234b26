// One simulated run: 3, 5 or 7 nodes — each the real host (src/host) with the real consensus core
// and key-value state machine over simulated clock, disk and network (node.ts) — on virtual time,
// driven from one seed. Phases: faults (the seed's swarm mix) until faultPhaseMs, then everything is
// healed, restarted and resumed, and the liveness phase must see a leader and every client complete
// a request within livenessBoundMs. Oracles run after every event; the run stops at the first
// violation. The world (nodes, clients, streams) is world.ts.
import type { NodeId, RaftEvent } from '../raft/types.ts';
import type { FaultAction, SimEvent } from './events.ts';
import { NO_NETWORK_FAULTS } from './network.ts';
import { fmtUs } from './oracles.ts';
import { describeScenario } from './scenario.ts';
import { traceLine } from './trace.ts';
import { SimWorld } from './world.ts';
import type { RunOptions, SeedResult } from './world.ts';

export type { CoreArgs, RunOptions, SeedResult } from './world.ts';

/** A run that does not finish within this many events is a bug in the simulator or a livelock. */
const MAX_EVENTS = 4_000_000;

export function runSeed(opts: RunOptions): SeedResult {
  return new Cluster(opts).run();
}

class Cluster extends SimWorld {
  private healUs = -1;
  /** The label of the partition in force (null: none, or healed). */
  private partitionLabel: string | null = null;
  private powerLossArmed = false;
  private done = false;
  private events = 0;

  run(): SeedResult {
    this.trace.add(
      traceLine(
        0,
        'sim',
        '-',
        '',
        null,
        `seed ${this.opts.seed} ${describeScenario(this.s)}${this.s.mutant ? ' mutant=' + this.s.mutant : ''}`,
      ),
    );
    for (const id of this.nodes.keys()) this.startNode(id);
    this.faults.start();
    this.members.start();
    this.schedule(this.s.faultPhaseMs * 1000, { k: 'fault', action: { kind: 'stop-faults' } });
    this.schedule((this.s.faultPhaseMs + this.s.livenessBoundMs) * 1000, { k: 'end' });
    for (const c of this.clients) this.schedule(this.rng.int(1, 1000), { k: 'clientNext', client: c.id });
    this.coord.start();
    while (!this.done && !this.oracles.failed) {
      const item = this.q.pop();
      if (item === undefined) break;
      this.nowUs = item.atUs;
      if (++this.events > MAX_EVENTS) {
        this.oracles.violation(`simulator: more than ${MAX_EVENTS} events`);
        break;
      }
      this.dispatch(item.event);
      this.checkLeases();
    }
    for (const c of this.clients) c.abandon();
    this.coord.end();
    this.opts.verbose?.(this.coord.describe());
    for (const v of this.oracles.violations)
      this.trace.add(traceLine(this.nowUs, 'sim', '-', '', null, `VIOLATION ${v}`));
    return {
      seed: this.opts.seed,
      violations: this.oracles.violations,
      trace: this.trace.dump(),
      history: this.history,
      scenario: describeScenario(this.s),
      events: this.events,
      endUs: this.nowUs,
      wal: this.walStats(),
      logReads: sumLogReads([...this.nodes.values()].map((n) => n.storage.logReads)),
    };
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.k) {
      case 'call':
        ev.fn();
        return;
      case 'clientReq':
        this.nodes.get(ev.node)!.clientRequest(ev.req);
        return;
      case 'clientResp':
        this.clients[ev.resp.client]!.onResponse(ev.resp);
        this.checkLiveness(false);
        return;
      case 'clientTimeout':
        this.clients[ev.client]!.onTimeout(ev.opId, ev.attempt);
        return;
      case 'clientRetry':
        this.clients[ev.client]!.onRetry(ev.opId);
        return;
      case 'clientNext':
        this.clients[ev.client]!.onNext();
        return;
      case 'fault':
        this.applyFault(ev.action);
        return;
      case 'end':
        this.checkLiveness(true);
        this.done = true;
        return;
    }
  }

  protected applyFault(a: FaultAction): void {
    if (a.kind === 'next-fault') {
      if (!this.faultsStopped) for (const f of this.faults.next()) this.applyFault(f);
      return;
    }
    if (a.kind === 'member') return this.members.onTick();
    const node = 'node' in a ? this.nodes.get(a.node)! : null;
    // Steps of a fault script still pending when the liveness phase starts are void.
    const harmful =
      ['crash', 'pause', 'partition', 'transfer', 'clock-rate', 'wipe', 'power-loss', 'power-off'].includes(a.kind) ||
      (a.kind === 'slow-link' && a.extraUs > 0) ||
      (a.kind === 'starve' && a.on);
    if (this.faultsStopped && harmful) return;
    switch (a.kind) {
      case 'quiet':
        this.writesPaused = a.on && !this.faultsStopped;
        this.traceFault(a.on ? 'clients only read for a while' : 'clients write again');
        return;
      case 'crash':
        if (!node!.up) return;
        this.crashNode(a.node);
        this.traceFault(`crash ${a.node}`);
        this.maybeFlipBit();
        return;
      case 'power-loss':
        this.powerLossArmed = true;
        this.traceFault('power loss armed: every node crashes when the leader next commits while a disk writes');
        return;
      case 'power-off': {
        const up = this.liveIds().filter((id) => this.nodes.get(id)!.up);
        this.traceFault(`power loss: ${up.join(', ')} crash`);
        for (const id of up) {
          this.crashNode(id);
          const back = Math.round(this.rng.range(0.05, 1) * this.s.timing.electionTimeoutMaxMs * 1000);
          this.schedule(this.nowUs + back, { k: 'fault', action: { kind: 'restart', node: id } });
        }
        this.maybeFlipBit();
        return;
      }
      case 'starve':
        if (a.on) this.starved.add(a.node);
        else this.starved.delete(a.node);
        this.traceFault(`${a.node} ${a.on ? 'receives no log entries from now on' : 'receives log entries again'}`);
        return;
      case 'change': {
        const L = this.currentLeader();
        if (L === null || L === a.change.id) return;
        const ok = this.proposeChange(L, a.change);
        this.traceFault(`${a.change.kind} ${a.change.id} at ${L}: ${ok ? 'accepted' : 'refused'}`);
        return;
      }
      case 'wipe':
        if (this.wiped.has(a.node)) return;
        this.traceFault(
          `${a.node}'s disk is lost${a.rejoin ? '; it restarts at once under the same id with an empty disk (mutant)' : ' (it will be replaced)'}`,
        );
        this.wipe(a.node, a.rejoin);
        return;
      case 'restart':
        if (node!.up || this.wiped.has(a.node)) return;
        this.traceFault(`restart ${a.node}`);
        this.startNode(a.node);
        return;
      case 'pause':
        node!.pause();
        break;
      case 'resume':
        if (!node!.paused) return;
        this.traceFault(`resume ${a.node}`);
        node!.resume();
        return;
      case 'partition':
        this.partitionLabel = a.label;
        this.net.clearBlocks();
        for (const [from, to] of a.links) this.net.block(from, to);
        for (const [from, to] of a.lossy ?? []) this.net.cutInFlight(from, to, this.nowUs);
        this.traceFault(`partition: ${a.label} [${this.net.describePartitions()}]`);
        return;
      case 'heal':
        // A heal undoes its own partition, not one that replaced it since.
        if (a.of !== undefined && a.of !== this.partitionLabel) return;
        this.partitionLabel = null;
        this.net.clearBlocks();
        break;
      case 'slow-link':
        this.net.setExtraDelay(a.from, a.to, a.extraUs);
        this.traceFault(`link ${a.from}→${a.to} extra delay ${(a.extraUs / 1000).toFixed(1)}ms`);
        return;
      case 'clock-rate':
        node!.clock.setRate(this.nowUs, a.rate);
        node!.rescheduleTick();
        this.traceFault(`clock of ${a.node} now runs at rate ${a.rate}`);
        return;
      case 'clear-delays':
        this.net.clearDelays();
        break;
      case 'transfer': {
        const leader = this.currentLeader();
        if (leader === null) return;
        const candidates = this.liveIds().filter((n) => n !== leader && this.nodes.get(n)!.up);
        if (candidates.length === 0) return;
        const target = a.target !== undefined && a.target !== leader ? a.target : this.rng.pick(candidates);
        this.traceFault(`transfer leadership ${leader} → ${target}`);
        this.nodes.get(leader)!.transfer(target);
        return;
      }
      case 'stop-faults':
        this.stopFaults();
        return;
    }
    this.traceFault(a.kind + ('node' in a ? ' ' + a.node : ''));
  }

  /** Liveness phase: heal everything, restart and resume every node. */
  private stopFaults(): void {
    this.faultsStopped = true;
    this.writesPaused = false;
    this.healUs = this.nowUs;
    this.net.healAll();
    this.starved.clear();
    this.net.faults = NO_NETWORK_FAULTS;
    this.traceFault('faults stop: network healed, all nodes restarted/resumed (liveness phase)');
    this.coord.faultsStopped();
    for (const [id, n] of this.nodes) {
      if (this.wiped.has(id)) continue;
      if (!n.up) this.startNode(id);
      else if (n.paused) n.resume();
    }
  }

  private checkLiveness(final: boolean): void {
    if (this.healUs < 0 || this.done) return;
    const leader = this.currentLeader();
    const lagging = this.clients.filter((c) => c.lastOkCallUs < this.healUs);
    // TTL grants whose keep-alives stopped are waited for (up to the end): the TTL oracle checks
    // their late bound meanwhile.
    if (leader !== null && lagging.length === 0 && (!this.coord.pending || final)) {
      this.oracles.checkAckedWritesKept(leader);
      this.trace.add(
        traceLine(
          this.nowUs,
          'sim',
          '-',
          '',
          null,
          `liveness ok: leader ${leader}, every client completed a request ${fmtUs(this.nowUs - this.healUs)} after faults stopped`,
        ),
      );
      this.done = true;
      return;
    }
    if (final) {
      this.oracles.violation(
        `liveness: ${this.s.livenessBoundMs}ms after faults stopped, ` +
          (leader === null
            ? 'no leader'
            : `leader ${leader} but client(s) ${lagging.map((c) => c.id).join(',')} completed nothing`),
      );
    }
  }

  private checkLeases(): void {
    let holders: NodeId[] | null = null;
    for (const n of this.nodes.values()) {
      if (n.host !== null && n.host.isLeaseValid()) (holders ??= []).push(n.id);
    }
    if (holders === null) return;
    if (holders.length > 1) return this.oracles.checkLeases(holders, this.nowUs);
    const h = holders[0]!;
    for (const [other, endUs] of this.claimEndUs) {
      if (other !== h && endUs > this.nowUs) {
        this.oracles.violation(
          `lease exclusivity: ${h} holds a lease while the lease ${other} claimed runs until true time ${fmtUs(endUs)} (now ${fmtUs(this.nowUs)})`,
        );
        return;
      }
    }
  }

  protected observeEvents(id: NodeId, events: readonly RaftEvent[]): void {
    const node = this.nodes.get(id)!;
    for (const e of events) {
      if (e.kind === 'lease-acquired' || e.kind === 'lease-renewed') {
        this.claimEndUs.set(id, Math.max(this.claimEndUs.get(id) ?? 0, node.clock.trueUsAt(e.untilMs)));
      }
      const writing = (): boolean => [...this.nodes.values()].some((n) => n.diskWriting);
      if (e.kind === 'commit' && this.powerLossArmed && this.roles.get(id)?.role === 'leader' && writing()) {
        // Right after the event that committed, while some disk is mid-fsync (the leader's own, or
        // a follower's holding later entries): what survives is exactly what was synced.
        this.powerLossArmed = false;
        this.schedule(this.nowUs, { k: 'fault', action: { kind: 'power-off' } });
      }
      if (e.kind === 'role') {
        this.roles.set(id, { role: e.role, term: e.term });
        if (e.role === 'leader') this.oracles.onLeader(id, e.term);
      }
      if ((e.kind === 'lease-renewed' || e.kind === 'commit') && this.opts.verbose === undefined) continue;
      const { role, term } = this.roles.get(id)!;
      const nowMs = node.nowMs();
      const lease = node.host !== null ? node.host.isLeaseValid() : null;
      const now = this.nowUs;
      this.trace.add(() => traceLine(now, id, term, role, lease, describeEvent(e, nowMs)));
    }
  }
}

function describeEvent(e: RaftEvent, nowMs: number): string {
  const left = (untilMs: number): string => `${(untilMs - nowMs).toFixed(1)}ms left`;
  switch (e.kind) {
    case 'role':
      return `became ${e.role} (leader ${e.leader ?? '-'})`;
    case 'election-timeout':
      return `election timeout${e.preVote ? ' (pre-vote)' : ''}`;
    case 'vote':
      return `${e.granted ? 'granted' : 'refused'} vote to ${e.candidate} for term ${e.term}: ${e.reason}`;
    case 'lease-acquired':
      return `lease acquired, ${left(e.untilMs)}`;
    case 'lease-renewed':
      return `lease renewed, ${left(e.untilMs)}`;
    case 'lease-lost':
      return `lease lost: ${e.reason}`;
    case 'waiting-old-lease':
      return `new leader waiting for old leader lease to time out (${left(e.untilMs)})`;
    case 'old-lease-seen':
      return `old leader ${e.leader} lease may run: ${left(e.untilMs)}`;
    case 'step-down':
      return `step down: ${e.reason}`;
    case 'append-rejected':
      return `append from ${e.from} rejected at index ${e.index}`;
    case 'commit':
      return `commit ${e.index} (term ${e.term})`;
    case 'config':
      return `configuration at ${e.index}: voters ${e.voters}${e.learners === '' ? '' : `, learners ${e.learners}`}`;
  }
}

function sumLogReads(all: readonly { reads: number; entries: number }[]): { reads: number; entries: number } {
  return { reads: all.reduce((n, r) => n + r.reads, 0), entries: all.reduce((n, r) => n + r.entries, 0) };
}
