// The fault schedule: during the fault phase, draws the next fault from the seed's mix, applies it
// and schedules its undoing. Faults that target "the leader" look at the cluster as it is, because
// the interesting lease races start when the node holding a lease is cut off, paused or handed over.
import type { NodeId } from '../raft/types.ts';
import type { FaultAction, SimEvent } from './events.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from './scenario.ts';

export interface FaultWorld {
  readonly nowUs: number;
  schedule(atUs: number, ev: SimEvent): void;
  /** The node that most recently became leader and is still up, if any. */
  currentLeader(): NodeId | null;
  isUp(node: NodeId): boolean;
  isPaused(node: NodeId): boolean;
}

type FaultKind = 'partition' | 'crash' | 'pause' | 'transfer' | 'slow-link';

export class FaultInjector {
  private partitionActive = false;

  constructor(
    private readonly s: Scenario,
    private readonly rng: Prng,
    private readonly world: FaultWorld,
  ) {}

  kinds(): FaultKind[] {
    const f = this.s.faults;
    const out: FaultKind[] = [];
    if (f.partitions || f.asymmetric) out.push('partition');
    if (f.crashes) out.push('crash');
    if (f.pauses) out.push('pause');
    if (f.transfers) out.push('transfer');
    if (f.slowLinks) out.push('slow-link');
    return out;
  }

  /** Schedules the first fault; each injected fault schedules the next. */
  start(): void {
    if (this.kinds().length > 0) this.scheduleNext();
  }

  private scheduleNext(): void {
    const gapUs = Math.round(-Math.log(1 - this.rng.next()) * this.s.faults.meanGapMs * 1000);
    this.world.schedule(this.world.nowUs + Math.max(1, gapUs), { k: 'fault', action: { kind: 'next-fault' } });
  }

  /** Draws and schedules one fault (and its undoing). Returns the actions to apply now. */
  next(): FaultAction[] {
    this.scheduleNext();
    const kind = this.rng.pick(this.kinds());
    const t = this.s.timing;
    const now = this.world.nowUs;
    const target = this.pickTarget();
    const later = (ms: number, action: FaultAction): void => this.world.schedule(now + Math.round(ms * 1000), { k: 'fault', action });
    switch (kind) {
      case 'partition': {
        if (this.partitionActive) return [];
        this.partitionActive = true;
        later(this.rng.range(0.3, 3) * t.electionTimeoutMaxMs, { kind: 'heal' });
        return [this.partition(target)];
      }
      case 'crash': {
        if (!this.world.isUp(target)) return [];
        later(this.rng.range(0, 2) * t.electionTimeoutMaxMs, { kind: 'restart', node: target });
        return [{ kind: 'crash', node: target }];
      }
      case 'pause': {
        if (!this.world.isUp(target) || this.world.isPaused(target)) return [];
        // Longer than the lease, so a paused leader wakes up with an expired lease it must notice.
        later(this.rng.range(1.05, 3) * t.leaseDurationMs, { kind: 'resume', node: target });
        return [{ kind: 'pause', node: target }];
      }
      case 'transfer':
        return [{ kind: 'transfer' }];
      case 'slow-link': {
        const other = this.rng.pick(this.s.nodes.filter((n) => n !== target));
        const [from, to] = this.rng.chance(0.5) ? [target, other] : [other, target];
        const extraUs = Math.round(this.rng.range(0.2, 1.5) * t.leaseDurationMs * 1000);
        later(this.rng.range(0.5, 3) * t.electionTimeoutMaxMs, { kind: 'slow-link', from, to, extraUs: 0 });
        return [{ kind: 'slow-link', from, to, extraUs }];
      }
    }
  }

  healed(): void {
    this.partitionActive = false;
  }

  /** Mostly the leader (that is where leases live), otherwise anybody. */
  private pickTarget(): NodeId {
    const leader = this.world.currentLeader();
    if (leader !== null && this.rng.chance(0.7)) return leader;
    return this.rng.pick(this.s.nodes);
  }

  private partition(target: NodeId): FaultAction {
    const nodes = this.s.nodes;
    const others = nodes.filter((n) => n !== target);
    const links: [NodeId, NodeId][] = [];
    const asym = this.s.faults.asymmetric && (!this.s.faults.partitions || this.rng.chance(0.5));
    if (!asym) {
      if (this.rng.chance(0.6)) {
        for (const o of others) links.push([target, o], [o, target]);
        return { kind: 'partition', links, label: `isolate ${target}` };
      }
      // A random split: the target's side is a minority or a majority.
      const side = new Set<NodeId>([target]);
      const size = this.rng.int(1, nodes.length - 1);
      for (const o of others) if (side.size < size && this.rng.chance(0.5)) side.add(o);
      for (const a of side) for (const b of nodes) if (!side.has(b)) links.push([a, b], [b, a]);
      return { kind: 'partition', links, label: `split {${[...side].join(',')}}` };
    }
    const mode = this.rng.int(0, 2);
    if (mode === 0) {
      for (const o of others) links.push([target, o]);
      return { kind: 'partition', links, label: `${target} cannot send` };
    }
    if (mode === 1) {
      for (const o of others) links.push([o, target]);
      return { kind: 'partition', links, label: `${target} cannot receive` };
    }
    for (const a of nodes) for (const b of nodes) if (a !== b && this.rng.chance(0.3)) links.push([a, b]);
    return { kind: 'partition', links, label: `random one-way links` };
  }
}
