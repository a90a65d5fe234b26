// The simulated world of one seed: the nodes (each a real host over simulated parts, node.ts), the
// wire between them, clients, oracles and the seed's random streams; starting, adding and wiping
// nodes; and what a node process can see of the world (NodeWorld). The run loop and the faults are
// cluster.ts.
import type { HistoryOp } from '../check/history.ts';
import type { RaftConfig } from '../raft/config.ts';
import type { ConfChange, ConfState, NodeId, RaftEvent, Role } from '../raft/types.ts';
import { HOST_MUTANTS, type HostMutant } from '../host/types.ts';
import { WATCH_MUTANTS, type WatchMutant } from '../kv/watch-hub.ts';
import { NodeClock } from './clock.ts';
import { SimClient } from './clients.ts';
import { Coordination, type CoordWorld } from './coordination.ts';
import type { ClientWorld } from './clients.ts';
import type { FaultAction, SimEvent } from './events.ts';
import { FaultInjector, type FaultWorld } from './faults.ts';
import { MembershipDriver, type MemberWorld } from './membership.ts';
import { Network } from './network.ts';
import { SimNode, type NodeWorld } from './node.ts';
import { Oracles } from './oracles.ts';
import { Prng, forkFn } from './prng.ts';
import { EventQueue } from './queue.ts';
import { makeScenario } from './scenario.ts';
import type { Scenario, SimMutant } from './scenario.ts';
import { MemStorage } from './storage.ts';
import { Trace, traceLine } from './trace.ts';
import { Wire } from './transport.ts';
import { WalStorage } from './wal-storage.ts';
import type { WalStats } from './wal-storage.ts';

export interface RunOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly mutant: SimMutant | null;
  /** The core's configuration for a node: the seed's timing (and a core mutant, if any). */
  readonly raftConfig: (args: CoreArgs) => RaftConfig;
  readonly traceLimit?: number;
  readonly verbose?: (line: string) => void;
}

export interface CoreArgs {
  readonly id: NodeId;
  /** Bootstrap configuration: the initial members, or what a joining node was told. */
  readonly members: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly scenario: Scenario;
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
  /** Log reads (issue 16: entries past the leaders' window) summed over the nodes. */
  readonly logReads: { readonly reads: number; readonly entries: number };
}

export abstract class SimWorld {
  nowUs = 0;
  protected readonly s: Scenario;
  protected readonly q = new EventQueue<SimEvent>();
  protected readonly rng: Prng;
  protected readonly net: Network;
  protected readonly wire: Wire;
  protected readonly nodes = new Map<NodeId, SimNode>();
  protected readonly roles = new Map<NodeId, { role: Role | 'down'; term: number }>();
  protected readonly oracles: Oracles;
  protected readonly trace: Trace;
  protected readonly clients: SimClient[] = [];
  protected readonly history: HistoryOp[] = [];
  protected readonly faults: FaultInjector;
  protected faultsHeldUntilUs = 0;
  private holdFaults(untilUs: number): void {
    this.faultsHeldUntilUs = Math.max(this.faultsHeldUntilUs, untilUs);
  }
  private readonly coreRngs = new Map<NodeId, Prng>();
  private readonly storages = new Map<NodeId, MemStorage>();
  /** Each node's bootstrap configuration (initial members, or what it was told when added). */
  private readonly bootConf = new Map<NodeId, ConfState>();
  /** Wiped nodes: never run again (the disk is gone; the member is replaced under a new id). */
  protected readonly wiped = new Set<NodeId>();
  /** Members whose removal a leader accepted: clients and faults leave them alone. */
  protected readonly removedIds = new Set<NodeId>();
  /** Nodes that receive no log entries or snapshots (votes and heartbeats still arrive). */
  protected readonly starved = new Set<NodeId>();
  /** Drives membership plans; forked after every other stream. */
  private readonly memberRng: Prng;
  protected readonly members: MembershipDriver;
  /** Drives bit flips; forked after every other stream. */
  private readonly storageRng: Prng;
  /** Disk and CPU latencies of the node processes. */
  private readonly partsRng: Prng;
  /** Log reads' latencies and failures (issue 16); forked after every other stream. */
  private readonly readRng: Prng;
  private readonly hostMutant: HostMutant | null;
  private readonly watchMutant: WatchMutant | null;
  /** Watch and TTL clients and their oracles (issue 14). */
  protected readonly coord: Coordination;
  private readonly world: NodeWorld;
  /**
   * True time at which the latest lease each node CLAIMED (lease-acquired/renewed events) ends,
   * whether or not it later gave it up: followers were promised it, so no other node may hold a
   * lease before it ends (a stricter form of exclusivity, which the old-lease wait provides).
   */
  protected readonly claimEndUs = new Map<NodeId, number>();
  protected faultsStopped = false;
  protected writesPaused = false;

  constructor(protected readonly opts: RunOptions) {
    this.s = makeScenario(opts.seed, opts.nodes, opts.mutant);
    const m = opts.mutant;
    this.hostMutant = m !== null && (HOST_MUTANTS as readonly string[]).includes(m) ? (m as HostMutant) : null;
    this.watchMutant = m !== null && (WATCH_MUTANTS as readonly string[]).includes(m) ? (m as WatchMutant) : null;
    const root = new Prng(opts.seed);
    this.rng = root.fork();
    const netRng = root.fork();
    const faultRng = root.fork();
    const clientRng = root.fork();
    this.net = new Network(netRng, this.s.latency);
    this.net.faults = this.s.net;
    const self = this;
    this.wire = new Wire(this.net, {
      get nowUs() {
        return self.nowUs;
      },
      after: (us, fn) => this.schedule(this.nowUs + us, { k: 'call', fn }),
      end: (id) => this.nodes.get(id),
      starved: (id) => this.starved.has(id),
    });
    this.world = this.nodeWorld();
    this.s.nodes.forEach((id, i) => {
      this.bootConf.set(id, { voters: this.s.nodes, learners: [] });
      this.coreRngs.set(id, root.fork());
      const storage = this.s.walStorage ? new WalStorage(this.s.nodes, forkFn(root)) : new MemStorage(this.s.nodes);
      this.storages.set(id, storage);
      this.nodes.set(
        id,
        new SimNode(id, new NodeClock(this.s.clockRates[i]!, this.s.clockOffsetsMs[i]!), storage, this.world),
      );
      this.roles.set(id, { role: 'follower', term: 0 });
    });
    this.storageRng = root.fork();
    this.memberRng = root.fork();
    this.partsRng = root.fork();
    // Forked last: the seeds run as before these clients existed (TTL clients, when on, then change the run).
    const coordRng = root.fork();
    this.readRng = root.fork();
    this.members = new MembershipDriver(this.s, this.memberRng.fork(), this.memberWorld());
    this.oracles = new Oracles(this.storages);
    this.trace = new Trace(opts.traceLimit ?? 200, opts.verbose ?? null);
    this.faults = new FaultInjector(this.s, faultRng, this.faultWorld());
    this.coord = new Coordination(coordRng, this.s, this.coordWorld());
    for (let c = 0; c < this.s.clients; c++) {
      this.clients.push(new SimClient(c, this.s, clientRng.fork(), this.clientWorld(), this.oracles, this.history));
    }
  }

  /** Applies one fault action (cluster.ts). */
  protected abstract applyFault(a: FaultAction): void;

  schedule(atUs: number, ev: SimEvent): void {
    this.q.push(atUs, ev);
  }

  /** Nodes that may run, in creation order (exactly s.nodes until membership changes happen). */
  protected liveIds(): readonly NodeId[] {
    if (this.wiped.size === 0 && this.removedIds.size === 0 && this.nodes.size === this.s.nodes.length)
      return this.s.nodes;
    return [...this.nodes.keys()].filter((id) => !this.wiped.has(id) && !this.removedIds.has(id));
  }

  protected currentLeader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const [id, r] of this.roles)
      if (r.role === 'leader' && r.term > bestTerm && this.nodes.get(id)!.up) [best, bestTerm] = [id, r.term];
    return best;
  }

  protected traceFault(what: string): void {
    this.trace.add(traceLine(this.nowUs, 'sim', '-', '', null, `FAULT ${what}`));
  }

  protected proposeChange(leader: NodeId, cc: ConfChange): boolean {
    const ok = this.nodes.get(leader)!.proposeConfChange(cc);
    if (ok && cc.kind === 'remove') this.removedIds.add(cc.id);
    return ok;
  }

  /**
   * Starts (or restarts) a node. On the WAL storage the node's folder is recovered first: a
   * StorageCorruptError means the node refuses to start and stays down for the rest of the seed
   * (an operator would have to wipe it; see docs/simulator.md for why the simulator does not).
   */
  protected startNode(id: NodeId): void {
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

  protected crashNode(id: NodeId): void {
    this.nodes.get(id)!.crash();
    this.roles.set(id, { role: 'down', term: this.roles.get(id)!.term });
  }

  /** A brand-new member: its own clock, disk and random stream; it starts knowing `conf`. */
  private addNode(id: NodeId, conf: ConfState): void {
    const d = this.s.timing.maxClockDriftRate;
    const rng = this.memberRng;
    this.coreRngs.set(id, rng.fork());
    const storage = this.s.walStorage ? new WalStorage([], forkFn(rng)) : new MemStorage([]);
    this.storages.set(id, storage);
    this.bootConf.set(id, conf);
    const clock = new NodeClock(rng.range(1 - d, 1 + d), rng.range(0, 1e6));
    this.nodes.set(id, new SimNode(id, clock, storage, this.world));
    this.roles.set(id, { role: 'follower', term: 0 });
    this.startNode(id);
  }

  /**
   * The disk of `id` is lost. The real cluster never runs it again (it is replaced under a new
   * id); MUTANT rejoin-with-empty-disk restarts it at once, same id, empty disk, as --peers says.
   */
  protected wipe(id: NodeId, rejoin: boolean): void {
    const n = this.nodes.get(id)!;
    if (n.up) this.crashNode(id);
    this.roles.set(id, { role: 'down', term: this.roles.get(id)!.term });
    if (!rejoin) {
      this.wiped.add(id);
      return;
    }
    const storage = this.s.walStorage ? new WalStorage([], forkFn(this.memberRng)) : new MemStorage([]);
    this.storages.set(id, storage);
    n.replaceStorage(storage);
    this.bootConf.set(id, { voters: this.s.nodes, learners: [] });
    this.startNode(id);
  }

  /**
   * Bit flips hit only the seed's corruptible nodes (a minority), and only while they are down:
   * at each crash, one of them that is down (maybe the one just crashed) may get a flipped bit.
   */
  protected maybeFlipBit(): void {
    const down = this.s.corruptible.filter((id) => !this.nodes.get(id)!.up);
    if (down.length === 0 || !this.storageRng.chance(0.8)) return;
    const id = this.storageRng.pick(down);
    const st = this.nodes.get(id)!.storage;
    if (!(st instanceof WalStorage) || st.refused !== null) return;
    const where = st.flipRandomBit();
    if (where !== null) this.traceFault(`bit flip in ${id}'s ${where}`);
  }

  protected walStats(): WalStats | null {
    if (!this.s.walStorage) return null;
    const sum: WalStats = { opens: 0, crashesMidWrite: 0, repairs: 0, bitFlips: 0, refusals: 0 };
    for (const n of this.nodes.values()) {
      const st = n.storage as WalStorage;
      for (const k of Object.keys(sum) as (keyof WalStats)[]) sum[k] += st.stats[k];
    }
    return sum;
  }

  private refused(id: NodeId): boolean {
    const st = this.nodes.get(id)!.storage;
    return st instanceof WalStorage && st.refused !== null;
  }

  /** What a node process sees of the world. */
  private nodeWorld(): NodeWorld {
    const self = this;
    return {
      get nowUs() {
        return self.nowUs;
      },
      after: (us, fn) => this.schedule(this.nowUs + us, { k: 'call', fn }),
      wire: this.wire,
      fsyncLatencyUs: () => this.partsRng.int(this.s.fsyncMinUs, this.s.fsyncMaxUs),
      cpuLatencyUs: () => this.partsRng.int(10, 500),
      logReadLatencyUs: () => (this.readRng.chance(0.05) ? null : this.readRng.int(10, this.s.fsyncMaxUs)),
      raftConfig: (id) => {
        const conf = this.bootConf.get(id)!;
        return this.opts.raftConfig({ id, members: conf.voters, learners: conf.learners, scenario: this.s });
      },
      random: (id) => {
        const rng = this.coreRngs.get(id)!;
        return () => rng.next();
      },
      hostMutant: this.hostMutant,
      watchMutant: this.watchMutant,
      reply: (resp) => this.schedule(this.nowUs + this.rng.int(100, 2000), { k: 'clientResp', resp }),
      observeWrite: (node, entries) => this.oracles.onWrite(node, entries),
      observeApply: (node, e, result, effective) => {
        this.oracles.onApply(node, e, result, effective);
        this.coord.onApply(node, e, result);
      },
      observeChanges: (_node, revision, events) => this.coord.onChanges(revision, events),
      observeEvents: (node, events) => this.observeEvents(node, events),
      observeLeaseRead: (node, index) => this.oracles.checkLeaseRead(node, index, this.nowUs),
      fail: (node, what) => this.oracles.violation(`host contract at ${node}: ${what}`),
    };
  }

  protected abstract observeEvents(id: NodeId, events: readonly RaftEvent[]): void;

  private faultWorld(): FaultWorld {
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
      lastIndex: (n) => this.nodes.get(n)!.host?.lastIndex() ?? 0,
      heldUntilUs: () => this.faultsHeldUntilUs,
      hold: (untilUs) => this.holdFaults(untilUs),
    };
  }

  private coordWorld(): CoordWorld {
    const self = this;
    return {
      get nowUs() {
        return self.nowUs;
      },
      after: (us, fn) => this.schedule(this.nowUs + us, { k: 'call', fn }),
      nodes: () => this.liveIds(),
      node: (id) => this.nodes.get(id)!,
      trace: (what) => {
        const now = this.nowUs;
        this.trace.add(() => traceLine(now, 'cli', '-', '', null, what()));
      },
      violation: (what) => this.oracles.violation(what),
      leader: () => {
        const l = this.currentLeader();
        return l === null || this.nodes.get(l)!.paused ? null : { node: l, term: this.roles.get(l)!.term };
      },
    };
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
      confOf: (leader) => this.nodes.get(leader)!.host!.confState(),
      confCommitted: (leader) => this.nodes.get(leader)!.host!.confCommitted(),
      propose: (leader, cc) => this.proposeChange(leader, cc),
      addNode: (id, conf) => this.addNode(id, conf),
      downForGood: () => [...this.nodes.keys()].filter((id) => this.wiped.has(id) || this.refused(id)),
      apply: (a) => this.applyFault(a),
      hold: (untilUs) => this.holdFaults(untilUs),
      heldUntilUs: () => this.faultsHeldUntilUs,
      trace: (what) => this.traceFault(what),
    };
  }

  private clientWorld(): ClientWorld {
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
}
