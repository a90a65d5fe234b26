// One simulated run: 3, 5 or 7 consensus cores on virtual time, driven from one seed.
// Phases: faults (the seed's swarm mix) until faultPhaseMs, then everything is healed, restarted and
// resumed, and the liveness phase must see a leader and every client complete a request within
// livenessBoundMs. Oracles run after every event; the run stops at the first violation.
import type { HistoryOp } from '../check/history.ts';
import type { ConfChange, ConfState, Entry, Mutant, NodeId, RaftEvent, Role } from '../raft/types.ts';
import { NodeClock } from './clock.ts';
import type { Core, Restored } from './core.ts';
import { SimClient } from './clients.ts';
import type { ClientResponse, Envelope, FaultAction, SimEvent } from './events.ts';
import { FaultInjector } from './faults.ts';
import { MembershipDriver } from './membership.ts';
import type { MemberWorld } from './membership.ts';
import { SimNode } from './host.ts';
import type { HostWorld } from './host.ts';
import { Network, NO_NETWORK_FAULTS } from './network.ts';
import { Oracles, fmtUs } from './oracles.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { describeScenario, makeScenario } from './scenario.ts';
import type { Scenario } from './scenario.ts';
import { MemStorage } from './storage.ts';
import { WalStorage } from './wal-storage.ts';
import type { WalStats } from './wal-storage.ts';
import { Trace, traceLine } from './trace.ts';

export interface RunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly mutant: Mutant | null;
  /** Builds a core; the simulator passes the seed's timing and the node's own random stream. */
  readonly makeCore: (args: CoreArgs) => Core;
  readonly traceLimit?: number;
  readonly verbose?: (line: string) => void;
}

export interface CoreArgs {
  readonly id: NodeId;
  /** Bootstrap configuration: the initial members, or what a joining node was told. */
  readonly members: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly scenario: Scenario;
  readonly random: () => number;
  readonly nowMs: number;
  readonly restored: Restored | null;
}

export interface SeedResult {
  readonly seed: number;
  readonly violations: readonly string[];
  readonly trace: readonly string[];
  readonly history: readonly HistoryOp[];
  readonly scenario: string;
  readonly events: number;
  readonly endUs: number;
  /** Summed over the nodes when the seed ran on the real WAL (scenario.walStorage), else null. */
  readonly wal: WalStats | null;
}

/** A run that does not finish within this many events is a bug in the simulator or a livelock. */
const MAX_EVENTS = 2_000_000;

export function runSeed(opts: RunOptions): SeedResult {
  return new Cluster(opts).run();
}

class Cluster implements HostWorld {
  nowUs = 0;
  private readonly s: Scenario;
  private readonly q = new EventQueue<SimEvent>();
  private readonly rng: Prng;
  private readonly netRng: Prng;
  private readonly net: Network;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly roles = new Map<NodeId, { role: Role | 'down'; term: number }>();
  private readonly oracles: Oracles;
  private readonly trace: Trace;
  private readonly clients: SimClient[] = [];
  private readonly history: HistoryOp[] = [];
  private readonly faults: FaultInjector;
  private readonly coreRngs = new Map<NodeId, Prng>();
  private readonly storages = new Map<NodeId, MemStorage>();
  /** Each node's bootstrap configuration (initial members, or what it was told when added). */
  private readonly bootConf = new Map<NodeId, ConfState>();
  /** Wiped nodes: never run again (the disk is gone; the member is replaced under a new id). */
  private readonly wiped = new Set<NodeId>();
  /** Members whose removal a leader accepted: clients and faults leave them alone. */
  private readonly removedIds = new Set<NodeId>();
  /** Nodes that receive no log entries or snapshots (votes and heartbeats still arrive). */
  private readonly starved = new Set<NodeId>();
  /** Drives membership plans; forked after every other stream, so seeds without them replay as before. */
  private readonly memberRng: Prng;
  private readonly members: MembershipDriver;
  /** Drives bit flips; forked after every other stream so MemStorage seeds replay as before. */
  private readonly storageRng: Prng;
  /**
   * True time at which the latest lease each node CLAIMED (lease-acquired/renewed events) ends,
   * whether or not it later gave it up: followers were promised it, so no other node may hold a
   * lease before it ends (a stricter form of exclusivity, which the old-lease wait provides).
   */
  private readonly claimEndUs = new Map<NodeId, number>();
  private faultsStopped = false;
  private writesPaused = false;
  private healUs = -1;
  private done = false;
  private events = 0;

  constructor(private readonly opts: RunOptions) {
    this.s = makeScenario(opts.seed, opts.nodes, opts.mutant);
    const root = new Prng(opts.seed);
    this.rng = root.fork();
    this.netRng = root.fork();
    const faultRng = root.fork();
    const clientRng = root.fork();
    this.net = new Network(this.netRng, this.s.latency);
    this.net.faults = this.s.net;
    const storages = this.storages;
    this.s.nodes.forEach((id, i) => {
      this.bootConf.set(id, { voters: this.s.nodes, learners: [] });
      this.coreRngs.set(id, root.fork());
      const storage = this.s.walStorage ? new WalStorage(this.s.nodes, forkFn(root)) : new MemStorage(this.s.nodes);
      storages.set(id, storage);
      this.nodes.set(
        id,
        new SimNode(id, new NodeClock(this.s.clockRates[i]!, this.s.clockOffsetsMs[i]!), storage, this),
      );
      this.roles.set(id, { role: 'follower', term: 0 });
    });
    this.storageRng = root.fork();
    this.memberRng = root.fork();
    this.members = new MembershipDriver(this.s, this.memberRng.fork(), this.memberWorld());
    this.oracles = new Oracles(storages);
    this.trace = new Trace(opts.traceLimit ?? 200, opts.verbose ?? null);
    this.faults = new FaultInjector(this.s, faultRng, this.faultWorld());
    for (let c = 0; c < this.s.clients; c++) {
      this.clients.push(new SimClient(c, this.s, clientRng.fork(), this.clientWorld(), this.oracles, this.history));
    }
  }

  private faultWorld(): import('./faults.ts').FaultWorld {
    const self = this;
    return {
      get nowUs() {
        return self.nowUs;
      },
      schedule: (at, ev) => this.schedule(at, ev),
      currentLeader: () => this.currentLeader(),
      isUp: (n) => this.nodes.get(n)!.up,
      isPaused: (n) => this.nodes.get(n)!.paused,
      nodes: () => this.liveIds(),
    };
  }

  /** Nodes that may run, in creation order (exactly s.nodes until membership changes happen). */
  private liveIds(): readonly NodeId[] {
    if (this.wiped.size === 0 && this.removedIds.size === 0 && this.nodes.size === this.s.nodes.length)
      return this.s.nodes;
    return [...this.nodes.keys()].filter((id) => !this.wiped.has(id) && !this.removedIds.has(id));
  }

  private memberWorld(): MemberWorld {
    const self = this;
    return {
      get nowUs() {
        return self.nowUs;
      },
      get faultsStopped() {
        return self.faultsStopped;
      },
      schedule: (at, ev) => this.schedule(at, ev),
      currentLeader: () => this.currentLeader(),
      confOf: (leader) => this.nodes.get(leader)!.core!.confState(),
      propose: (leader, cc) => this.proposeChange(leader, cc),
      addNode: (id, conf) => this.addNode(id, conf),
      downForGood: () => [...this.nodes.keys()].filter((id) => this.wiped.has(id) || this.refused(id)),
      apply: (a) => this.applyFault(a),
      trace: (what) => this.traceFault(what),
    };
  }

  private refused(id: NodeId): boolean {
    const st = this.nodes.get(id)!.storage;
    return st instanceof WalStorage && st.refused !== null;
  }

  private proposeChange(leader: NodeId, cc: ConfChange): boolean {
    const n = this.nodes.get(leader)!;
    if (n.core === null || n.paused || n.blocked) return false;
    const ok = n.proposeConfChange(cc);
    if (ok && cc.kind === 'remove') this.removedIds.add(cc.id);
    return ok;
  }

  /** A brand-new member: its own clock, disk and random stream; it starts knowing `conf`. */
  private addNode(id: NodeId, conf: ConfState): void {
    const d = this.s.timing.maxClockDriftRate;
    const rng = this.memberRng;
    this.coreRngs.set(id, rng.fork());
    const storage = this.s.walStorage ? new WalStorage([], forkFn(rng)) : new MemStorage([]);
    this.storages.set(id, storage);
    this.bootConf.set(id, conf);
    this.nodes.set(id, new SimNode(id, new NodeClock(rng.range(1 - d, 1 + d), rng.range(0, 1e6)), storage, this));
    this.roles.set(id, { role: 'follower', term: 0 });
    this.startNode(id);
  }

  /**
   * The disk of `id` is lost. The real cluster never runs it again (it is replaced under a new
   * id); MUTANT rejoin-with-empty-disk restarts it at once, same id, empty disk, as --peers says.
   */
  private wipe(id: NodeId, rejoin: boolean): void {
    const n = this.nodes.get(id)!;
    if (n.up) n.crash();
    this.roles.set(id, { role: 'down', term: this.roles.get(id)!.term });
    if (!rejoin) {
      this.wiped.add(id);
      return;
    }
    const storage = this.s.walStorage ? new WalStorage([], forkFn(this.memberRng)) : new MemStorage([]);
    this.storages.set(id, storage);
    n.storage = storage;
    this.bootConf.set(id, { voters: this.s.nodes, learners: [] });
    this.startNode(id);
  }

  private clientWorld(): import('./clients.ts').ClientWorld {
    const self = this;
    return {
      get nowUs() {
        return self.nowUs;
      },
      schedule: (at, ev) => this.schedule(at, ev),
      request: (node, req) => this.schedule(this.nowUs + this.rng.int(100, 2000), { k: 'clientReq', node, req }),
      get writesPaused() {
        return self.writesPaused;
      },
      nodes: () => this.liveIds(),
      trace: (what) => {
        const now = this.nowUs;
        this.trace.add(() => traceLine(now, 'cli', '-', '', null, what()));
      },
    };
  }

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
    };
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.k) {
      case 'deliver':
        this.nodes.get(ev.to)!.deliver({ kind: 'msg', env: ev.env });
        return;
      case 'tick':
        this.nodes.get(ev.node)!.onTick(ev.gen);
        return;
      case 'fsync':
        this.nodes.get(ev.node)!.onFsync(ev.epoch);
        return;
      case 'clientReq':
        this.nodes.get(ev.node)!.deliver({ kind: 'client', req: ev.req });
        return;
      case 'clientResp':
        this.clients[ev.resp.client]!.onResponse(ev.resp);
        this.checkLiveness(false);
        return;
      case 'clientTimeout':
        this.clients[ev.client]!.onTimeout(ev.opId);
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

  private applyFault(a: FaultAction): void {
    if (a.kind === 'next-fault') {
      if (!this.faultsStopped) for (const f of this.faults.next()) this.applyFault(f);
      return;
    }
    if (a.kind === 'member') return this.members.onTick();
    const node = 'node' in a ? this.nodes.get(a.node)! : null;
    // Steps of a fault script still pending when the liveness phase starts are void.
    const harmful =
      ['crash', 'pause', 'partition', 'transfer', 'clock-rate', 'wipe'].includes(a.kind) ||
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
        node!.crash();
        this.roles.set(a.node, { role: 'down', term: this.roles.get(a.node)!.term });
        this.traceFault(`crash ${a.node}`);
        this.maybeFlipBit();
        return;
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
        this.net.clearBlocks();
        for (const [from, to] of a.links) this.net.block(from, to);
        this.traceFault(`partition: ${a.label} [${this.net.describePartitions()}]`);
        return;
      case 'heal':
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
        this.nodes.get(leader)!.deliver({ kind: 'transfer', target });
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
    for (const [id, n] of this.nodes) {
      if (this.wiped.has(id)) continue;
      if (!n.up) this.startNode(id);
      else if (n.paused) n.resume();
    }
  }

  /**
   * Starts (or restarts) a node. On the WAL storage the node's folder is recovered first: a
   * StorageCorruptError means the node refuses to start and stays down for the rest of the seed
   * (an operator would have to wipe it; see docs/simulator.md for why the simulator does not).
   */
  private startNode(id: NodeId): void {
    const n = this.nodes.get(id)!;
    const st = n.storage;
    if (st instanceof WalStorage && st.needsOpen) {
      const wasRefused = st.refused !== null;
      const out = st.open();
      if (out.kind === 'refused') {
        if (!wasRefused) this.traceFault(`${id} refuses to start: ${out.error.message}`);
        return;
      }
      if (out.silentCorruption !== null)
        this.oracles.violation(`silent corruption: ${id} started from a damaged file: ${out.silentCorruption}`);
      if (out.repaired !== null) this.traceFault(`${id} repaired its WAL tail: ${out.repaired}`);
    }
    this.roles.set(id, { role: 'follower', term: this.roles.get(id)!.term });
    n.start();
  }

  /**
   * Bit flips hit only the seed's corruptible nodes (a minority), and only while they are down:
   * at each crash, one of them that is down (maybe the one just crashed) may get a flipped bit.
   */
  private maybeFlipBit(): void {
    const down = this.s.corruptible.filter((id) => !this.nodes.get(id)!.up);
    if (down.length === 0 || !this.storageRng.chance(0.8)) return;
    const id = this.storageRng.pick(down);
    const st = this.nodes.get(id)!.storage;
    if (!(st instanceof WalStorage) || st.refused !== null) return;
    const where = st.flipRandomBit();
    if (where !== null) this.traceFault(`bit flip in ${id}'s ${where}`);
  }

  private walStats(): WalStats | null {
    if (!this.s.walStorage) return null;
    const sum: WalStats = { opens: 0, crashesMidWrite: 0, repairs: 0, bitFlips: 0, refusals: 0 };
    for (const n of this.nodes.values()) {
      const st = n.storage as WalStorage;
      for (const k of Object.keys(sum) as (keyof WalStats)[]) sum[k] += st.stats[k];
    }
    return sum;
  }

  private checkLiveness(final: boolean): void {
    if (this.healUs < 0 || this.done) return;
    const leader = this.currentLeader();
    const lagging = this.clients.filter((c) => c.lastOkCallUs < this.healUs);
    if (leader !== null && lagging.length === 0) {
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

  private currentLeader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const [id, r] of this.roles)
      if (r.role === 'leader' && r.term > bestTerm && this.nodes.get(id)!.up) [best, bestTerm] = [id, r.term];
    return best;
  }

  private checkLeases(): void {
    let holders: NodeId[] | null = null;
    for (const n of this.nodes.values()) {
      if (n.core !== null && n.core.isLeaseValid(n.nowMs())) (holders ??= []).push(n.id);
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

  private traceFault(what: string): void {
    this.trace.add(traceLine(this.nowUs, 'sim', '-', '', null, `FAULT ${what}`));
  }

  // ---- HostWorld ----
  schedule(atUs: number, ev: SimEvent): void {
    this.q.push(atUs, ev);
  }

  sendPeer(env: Envelope): void {
    const m = env.msg;
    if (
      this.starved.size > 0 &&
      this.starved.has(m.to) &&
      ((m.type === 'app' && m.entries.length > 0) || m.type === 'snap')
    )
      return;
    for (const at of this.net.plan(env.msg.from, env.msg.to, this.nowUs))
      this.schedule(at, { k: 'deliver', to: env.msg.to, env });
  }

  reply(_node: NodeId, resp: ClientResponse): void {
    this.schedule(this.nowUs + this.rng.int(100, 2000), { k: 'clientResp', resp });
  }

  fsyncLatencyUs(): number {
    return this.rng.int(this.s.fsyncMinUs, this.s.fsyncMaxUs);
  }

  makeCore(id: NodeId, restored: Restored | null): Core {
    const node = this.nodes.get(id)!;
    const rng = this.coreRngs.get(id)!;
    const conf = this.bootConf.get(id)!;
    return this.opts.makeCore({
      id,
      members: conf.voters,
      learners: conf.learners,
      scenario: this.s,
      random: () => rng.next(),
      nowMs: node.nowMs(),
      restored,
    });
  }

  observeWrite(node: NodeId, entries: readonly Entry[]): void {
    this.oracles.onWrite(node, entries);
  }

  observeLeaseRead(node: NodeId, commitIndex: number): void {
    this.oracles.checkLeaseRead(node, commitIndex, this.nowUs);
  }

  observeApply(node: NodeId, entry: Entry): void {
    this.oracles.onApply(node, entry);
  }

  observeEvents(id: NodeId, events: readonly RaftEvent[]): void {
    const node = this.nodes.get(id)!;
    for (const e of events) {
      if (e.kind === 'lease-acquired' || e.kind === 'lease-renewed') {
        this.claimEndUs.set(id, Math.max(this.claimEndUs.get(id) ?? 0, node.clock.trueUsAt(e.untilMs)));
      }
      if (e.kind === 'role') {
        this.roles.set(id, { role: e.role, term: e.term });
        if (e.role === 'leader') this.oracles.onLeader(id, e.term);
      }
      if ((e.kind === 'lease-renewed' || e.kind === 'commit') && this.opts.verbose === undefined) continue;
      const { role, term } = this.roles.get(id)!;
      const nowMs = node.nowMs();
      const lease = node.core !== null ? node.core.isLeaseValid(nowMs) : null;
      const now = this.nowUs;
      this.trace.add(() => traceLine(now, id, term, role, lease, describeEvent(e, nowMs)));
    }
  }

  fail(node: NodeId, what: string): void {
    this.oracles.violation(`host contract at ${node}: ${what}`);
  }
}

function forkFn(root: Prng): () => number {
  const rng = root.fork();
  return () => rng.next();
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
