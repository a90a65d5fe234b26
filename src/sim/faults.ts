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
  /** The nodes that exist and may run (the initial ones, plus added members, minus wiped ones). */
  nodes(): readonly NodeId[];
  /** The last index in the node's log (0 when it is down). */
  lastIndex(node: NodeId): number;
  /** No swarm partition (or attack) is injected before this instant (a script holds the network). */
  heldUntilUs(): number;
  /** Holds the swarm until `untilUs`: a script needs the cluster as it set it up. */
  hold(untilUs: number): void;
}

type FaultKind = 'partition' | 'crash' | 'pause' | 'transfer' | 'slow-link' | 'attack';

export class FaultInjector {
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
    if (f.attacks) out.push('attack');
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
    // A script holds the network: no partition may replace its cut (crashes, pauses and the rest
    // still happen, as they would to a real cluster in the middle of anything).
    if ((kind === 'partition' || kind === 'attack') && this.world.nowUs < this.world.heldUntilUs()) return [];
    const t = this.s.timing;
    const now = this.world.nowUs;
    const target = this.pickTarget();
    // A cluster shrunk to one running member (removals, lost disks) has no link to cut or slow.
    if ((kind === 'partition' || kind === 'slow-link') && this.world.nodes().length < 2) return [];
    const later = (ms: number, action: FaultAction): void =>
      this.world.schedule(now + Math.round(ms * 1000), { k: 'fault', action });
    switch (kind) {
      case 'partition': {
        // A new partition replaces the current one (so topologies can change under a running
        // election: cut a follower off the leader first, then isolate the leader, ...).
        const p = this.partition(target);
        later(this.rng.range(0.3, 3) * t.electionTimeoutMaxMs, { kind: 'heal', of: p.label });
        return [p];
      }
      case 'crash': {
        // One in five: a power loss of every node, timed for the worst instant (cluster.ts).
        if (this.rng.chance(0.2)) return [{ kind: 'power-loss' }];
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
      case 'attack':
        return this.attack();
      case 'slow-link': {
        const other = this.rng.pick(this.world.nodes().filter((n) => n !== target));
        const [from, to] = this.rng.chance(0.5) ? [target, other] : [other, target];
        const extraUs = Math.round(this.rng.range(0.2, 1.5) * t.leaseDurationMs * 1000);
        later(this.rng.range(0.5, 3) * t.electionTimeoutMaxMs, { kind: 'slow-link', from, to, extraUs: 0 });
        return [{ kind: 'slow-link', from, to, extraUs }];
      }
    }
  }

  /**
   * Compound faults aimed at the lease races of docs/lease-safety.md, each a short script against
   * the current leader L. The real core must survive all of them; each broken variant should not.
   */
  private attack(): FaultAction[] {
    const L = this.world.currentLeader();
    if (L === null) return [];
    const t = this.s.timing;
    const now = this.world.nowUs;
    const at = (ms: number, action: FaultAction): void =>
      this.world.schedule(now + Math.round(ms * 1000), { k: 'fault', action });
    const others = this.world.nodes().filter((n) => n !== L);
    const X = this.rng.pick(others);
    const isolateL: FaultAction = {
      kind: 'partition',
      links: others.flatMap((o) => [[L, o] as const, [o, L] as const]),
      label: `isolate ${L}`,
    };
    const em = t.electionTimeoutMaxMs;
    switch (this.rng.int(0, 4)) {
      case 0: {
        // X stops hearing L and campaigns while L's lease is backed by the others; then L is cut
        // off entirely, so the others' belief in the lease and L's own expire close together.
        const t1 = this.rng.range(0.3, 1.6) * em;
        at(t1, isolateL);
        at(t1 + this.rng.range(1, 2.5) * em, { kind: 'heal' });
        const out: FaultAction[] = [
          {
            kind: 'partition',
            links: [
              [L, X],
              [X, L],
            ],
            label: `attack: cut ${L}-${X}, then isolate ${L}`,
          },
        ];
        if (this.rng.chance(0.5)) {
          // Worst-case drift within the bound: L's clock slow (its lease lasts longest in true
          // time), everybody else's fast (their belief in it ends soonest).
          const rho = t.maxClockDriftRate;
          out.push(
            { kind: 'clock-rate', node: L, rate: 1 - rho },
            ...others.map((o): FaultAction => ({ kind: 'clock-rate', node: o, rate: 1 + rho })),
          );
        }
        if (this.rng.chance(0.5)) {
          // No writes for a while: X's log stays as up to date as anybody's, so only the lease
          // stands between X and the votes it asks for.
          out.push({ kind: 'quiet', on: true });
          at(this.rng.range(1, 2.5) * em, { kind: 'quiet', on: false });
        }
        if (this.rng.chance(0.5)) {
          // L hears the others late, so it learns late that they moved on to a newer term.
          for (const o of others)
            out.push({
              kind: 'slow-link',
              from: o,
              to: L,
              extraUs: Math.round(this.rng.range(0.1, 0.8) * t.leaseDurationMs * 1000),
            });
          at(t1 + this.rng.range(1, 2.5) * em, { kind: 'clear-delays' });
        }
        return out;
      }
      case 1: {
        // Acknowledgements to L crawl; then L is isolated while they are still in flight.
        const out: FaultAction[] = others.map((o) => ({
          kind: 'slow-link',
          from: o,
          to: L,
          extraUs: Math.round(this.rng.range(0.3, 1.2) * t.leaseDurationMs * 1000),
        }));
        const t1 = this.rng.range(20, 250);
        at(t1, { ...isolateL, label: `attack: slow acks to ${L}, then isolate it` });
        at(t1 + this.rng.range(1.5, 3) * em, { kind: 'heal' });
        at(t1 + this.rng.range(1.5, 3) * em, { kind: 'clear-delays' });
        return out;
      }
      case 2: {
        // Leadership transfer to X while X cannot reach L and L hears the others late.
        const out: FaultAction[] = others.map((o) => ({
          kind: 'slow-link',
          from: o,
          to: L,
          extraUs: Math.round(this.rng.range(0.1, 0.6) * t.leaseDurationMs * 1000),
        }));
        out.push({
          kind: 'partition',
          links: [[X, L]],
          label: `attack: transfer ${L} → ${X}, ${X} cannot send to ${L}`,
        });
        out.push({ kind: 'transfer', target: X });
        at(this.rng.range(1, 2.5) * em, { kind: 'heal' });
        at(this.rng.range(1, 2.5) * em, { kind: 'clear-delays' });
        return out;
      }
      case 3: {
        // X must not lag: a candidate with a shorter log is refused for that, lease or not.
        const top = Math.max(...others.map((o) => this.world.lastIndex(o)));
        const Y = this.rng.pick(others.filter((o) => this.world.lastIndex(o) === top));
        return this.voteInsideLease(L, Y, others);
      }
      default: {
        // X falls behind, comes back just as L crashes: the new leader's commit index lags what
        // L acknowledged, and X's first answers to it are rejections.
        const t1 = this.rng.range(0.2, 1) * em;
        at(t1, { kind: 'heal' });
        at(t1, { kind: 'crash', node: L });
        at(t1 + this.rng.range(1, 2) * em, { kind: 'restart', node: L });
        return [
          {
            kind: 'partition',
            links: others
              .filter((o) => o !== X)
              .flatMap((o) => [[X, o] as const, [o, X] as const])
              .concat([
                [X, L],
                [L, X],
              ]),
            label: `attack: ${X} falls behind, then ${L} crashes`,
          },
        ];
      }
    }
  }

  /**
   * The race the vote refusal exists for (docs/lease-safety.md, step 5): X stops hearing L and
   * campaigns while the others still back L's lease; clients only read, so X's log stays as up to
   * date as anybody's and only the lease stands between X and the votes; L hears the others late,
   * so once they have moved on it still serves lease reads for a while. A core whose voters grant
   * votes inside a lease elects X, whose NO-OP commits while L still answers from its lease: a
   * stale lease read. Nothing else is injected until it heals, so the race is not left to luck.
   */
  private voteInsideLease(L: NodeId, X: NodeId, others: readonly NodeId[]): FaultAction[] {
    const t = this.s.timing;
    const label = `attack: cut ${L}-${X} while the others back ${L}'s lease, and ${L} hears them late`;
    // The cut comes a few heartbeats after the writes stopped, once what was in flight (and a new
    // leader's NO-OP) has reached X: otherwise X's log lags and the others refuse it for that.
    const cutUs = this.world.nowUs + Math.round(this.rng.range(2, 5) * t.heartbeatIntervalMs * 1000);
    const cut: FaultAction = {
      kind: 'partition',
      links: [
        [L, X],
        [X, L],
      ],
      label,
    };
    this.world.schedule(cutUs, { k: 'fault', action: cut });
    const out: FaultAction[] = [{ kind: 'quiet', on: true }];
    for (const o of others)
      out.push({
        kind: 'slow-link',
        from: o,
        to: L,
        extraUs: Math.round(this.rng.range(0.2, 0.5) * t.leaseDurationMs * 1000),
      });
    // Past X's election timeout (its timer may run to the maximum) and a lease after it.
    const endUs = cutUs + Math.round((this.rng.range(1.2, 1.6) * t.electionTimeoutMaxMs + t.leaseDurationMs) * 1000);
    for (const action of [{ kind: 'heal', of: label }, { kind: 'clear-delays' }, { kind: 'quiet', on: false }] as const)
      this.world.schedule(endUs, { k: 'fault', action });
    this.world.hold(endUs);
    return out;
  }

  /** Mostly the leader (that is where leases live), otherwise anybody. */
  private pickTarget(): NodeId {
    const leader = this.world.currentLeader();
    if (leader !== null && this.rng.chance(0.7)) return leader;
    return this.rng.pick(this.world.nodes());
  }

  private partition(target: NodeId): Extract<FaultAction, { kind: 'partition' }> {
    const nodes = this.world.nodes();
    const others = nodes.filter((n) => n !== target);
    const links: [NodeId, NodeId][] = [];
    const asym = this.s.faults.asymmetric && (!this.s.faults.partitions || this.rng.chance(0.5));
    if (!asym) {
      const shape = this.rng.next();
      if (shape < 0.3) {
        // A non-transitive partition: one link cut, everybody else still connected (a "bridge").
        const other = this.rng.pick(others);
        links.push([target, other], [other, target]);
        return { kind: 'partition', links, label: `cut ${target}-${other}` };
      }
      if (shape < 0.7) {
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
    const mode = this.rng.int(0, 3);
    if (mode === 3) {
      const other = this.rng.pick(others);
      links.push([target, other]);
      return { kind: 'partition', links, label: `${target} cannot send to ${other}` };
    }
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
