// Membership changes in the simulator's fault menu: plans of single-server changes proposed through
// the current leader (grow 3→5 or 5→7 and back, remove a voter or the leader, add and drop a learner,
// replace a member whose disk is gone by a new member under a new id), each step retried until the
// core accepts it, racing every other fault. Two scripts aim at the lease rules of
// docs/lease-safety.md, "Membership changes": right after a promotion the new voter and enough
// others are cut off from the leader (a new voter that counted before acknowledging anything, or
// a lease still counted in the old configuration, then shows as two leases), and a replaced member
// is wiped while it backs the leader's lease and the other side has been campaigning (the mutant
// rejoin-with-empty-disk lets it back under its old id, with no memory of its vote or the lease).
// No plan grows the cluster beyond the core's limit, MAX_MEMBERS (an add past it is refused).
import { MAX_MEMBERS } from '../raft/config.ts';
import type { ConfChange, ConfState, NodeId } from '../raft/types.ts';
import type { FaultAction, SimEvent } from './events.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from './scenario.ts';

export interface MemberWorld {
  readonly nowUs: number;
  readonly faultsStopped: boolean;
  schedule(atUs: number, ev: SimEvent): void;
  currentLeader(): NodeId | null;
  /** The configuration in force at the current leader. */
  confOf(leader: NodeId): ConfState;
  /** Whether the leader's latest configuration change is committed. */
  confCommitted(leader: NodeId): boolean;
  /** Proposes at `leader`; true if the core accepted it. */
  propose(leader: NodeId, cc: ConfChange): boolean;
  /** Creates and starts a brand-new node that joins knowing `conf`. */
  addNode(id: NodeId, conf: ConfState): void;
  /** Nodes that will never run again (wiped, or refusing to start on a corrupted disk). */
  downForGood(): readonly NodeId[];
  apply(action: FaultAction): void;
  /** The fault swarm injects nothing until `untilUs`: a script needs the cluster as it set it up. */
  hold(untilUs: number): void;
  /** Until this instant no new step is taken (see hold). */
  heldUntilUs(): number;
  trace(what: string): void;
}

type Step =
  | { readonly kind: ConfChange['kind']; readonly id: NodeId }
  | { readonly kind: 'wipe'; readonly id: NodeId }
  | { readonly kind: 'transfer' }
  | { readonly kind: 'raft-dev-2015'; readonly id: NodeId };

/** Attempts per step before a plan is dropped (the cluster may be partitioned for a while). */
const MAX_ATTEMPTS = 40;

export class MembershipDriver {
  private plan: Step[] = [];
  private attempts = 0;
  private nextId: number;
  /** After a wipe step: the plan goes on once the wipe (scheduled later) has happened. */
  private waitUs = 0;
  private readonly rejoin: boolean;

  constructor(
    private readonly s: Scenario,
    private readonly rng: Prng,
    private readonly world: MemberWorld,
  ) {
    this.nextId = s.nodes.length + 1;
    // MUTANT rejoin-with-empty-disk: a wiped node restarts under its old id with an empty disk.
    this.rejoin = s.mutant === 'rejoin-with-empty-disk';
  }

  start(): void {
    if (this.s.membership) this.later(this.gapUs());
  }

  private gapUs(): number {
    return Math.max(1, Math.round(-Math.log(1 - this.rng.next()) * this.s.memberGapMs * 1000));
  }

  private later(us: number): void {
    this.world.schedule(this.world.nowUs + us, { k: 'fault', action: { kind: 'member' } });
  }

  /** One step of the current plan (or a new plan). Reschedules itself. */
  onTick(): void {
    if (this.plan.length === 0) {
      if (this.world.faultsStopped) return; // finish what was started, start nothing new
      this.plan = this.newPlan();
      this.attempts = 0;
      if (this.plan.length === 0) return this.later(this.gapUs());
    }
    const step = this.plan[0]!;
    if (this.tryStep(step)) {
      this.plan.shift();
      this.attempts = 0;
      const wait = this.waitUs;
      this.waitUs = 0;
      if (this.plan.length === 0) return this.later(wait + this.gapUs());
      return this.later(wait + this.rng.int(50, 400) * 1000);
    }
    if (++this.attempts >= MAX_ATTEMPTS) {
      this.world.trace(`membership plan dropped at ${step.kind}${'id' in step ? ' ' + step.id : ''}`);
      this.plan = [];
      return this.later(this.gapUs());
    }
    this.later(this.rng.int(100, 500) * 1000);
  }

  private newPlan(): Step[] {
    const L = this.world.currentLeader();
    if (L === null) return [];
    const cs = this.world.confOf(L);
    const members = cs.voters.length + cs.learners.length;
    const dead = this.world.downForGood();
    const options: (() => Step[])[] = [];
    const fresh = (): NodeId => `n${this.nextId++}`;
    // A learner left over from a dropped plan is promoted or removed first.
    const learner = cs.learners[0];
    if (learner !== undefined)
      return [this.rng.chance(0.7) ? { kind: 'promote', id: learner } : { kind: 'remove', id: learner }];
    // Grow to 5 voters (3→5 is two add-learner + promote pairs), or from 5 to 7; shrink back to 3
    // (the leader may go).
    const grown = cs.voters.length < 5 ? 5 : 7;
    if (cs.voters.length < grown && members + (grown - cs.voters.length) <= MAX_MEMBERS) {
      options.push(() => {
        const out: Step[] = [];
        for (let i = cs.voters.length; i < grown; i++) {
          const id = fresh();
          out.push({ kind: 'add-learner', id }, { kind: 'promote', id });
        }
        return out;
      });
    }
    if (cs.voters.length > 3) {
      options.push(() => {
        const pool = cs.voters.slice();
        const out: Step[] = [];
        while (pool.length > 3) {
          const id = this.rng.chance(0.3) && pool.includes(L) ? L : this.rng.pick(pool);
          pool.splice(pool.indexOf(id), 1);
          out.push({ kind: 'remove', id });
        }
        return this.rng.chance(0.5) ? out : out.slice(0, 1);
      });
    }
    if (members < MAX_MEMBERS) {
      options.push(() => {
        const id = fresh();
        return [
          { kind: 'add-learner', id },
          { kind: 'remove', id },
        ];
      });
    }
    // Replace a voter whose disk is lost (never the only spare: nobody else may be down for good).
    const deadVoter = cs.voters.find((v) => dead.includes(v));
    if (deadVoter !== undefined) {
      const id = fresh();
      return this.rng.chance(0.5) && cs.voters.length > 3
        ? [
            { kind: 'remove', id: deadVoter },
            { kind: 'add-learner', id },
            { kind: 'promote', id },
          ]
        : [
            { kind: 'add-learner', id },
            { kind: 'promote', id },
            { kind: 'remove', id: deadVoter },
          ];
    }
    if (dead.length === 0 && members < MAX_MEMBERS && cs.voters.length >= 3) {
      options.push(() => {
        const X = this.rng.pick(cs.voters.filter((v) => v !== L));
        if (this.rejoin) return [{ kind: 'wipe', id: X }];
        const id = fresh();
        return [
          { kind: 'wipe', id: X },
          { kind: 'add-learner', id },
          { kind: 'promote', id },
          { kind: 'remove', id: X },
        ];
      });
    }
    if (cs.voters.length > 1) options.push(() => [{ kind: 'transfer' }]);
    // The 2015 single-server bug needs four voters and a caught-up learner.
    if (dead.length === 0 && cs.voters.length >= 3 && cs.voters.length <= 5 && members + 2 <= MAX_MEMBERS) {
      options.push(() => {
        const out: Step[] = [];
        if (cs.voters.length === 3) {
          const id = fresh();
          out.push({ kind: 'add-learner', id }, { kind: 'promote', id });
        }
        if (cs.voters.length === 5) out.push({ kind: 'remove', id: this.rng.pick(cs.voters.filter((v) => v !== L)) });
        const y = fresh();
        out.push({ kind: 'add-learner', id: y }, { kind: 'raft-dev-2015', id: y });
        return out;
      });
    }
    return options.length === 0 ? [] : this.rng.pick(options)();
  }

  /**
   * A leadership transfer whose TimeoutNow (and everything else L sends the target) crawls for longer
   * than the transfer may take, while the target cannot answer L and L hears the others late: the
   * transfer times out at L, then the target campaigns with transfer = true after all. The leader
   * must not have resumed its lease (etcd-io/raft#99; mutant transfer-resumes-lease).
   */
  private slowTransfer(L: NodeId): void {
    const t = this.s.timing;
    const cs = this.world.confOf(L);
    const targets = cs.voters.filter((v) => v !== L);
    const X = this.rng.pick(targets);
    const late = this.rng.chance(0.6);
    if (late) {
      this.world.apply({
        kind: 'slow-link',
        from: L,
        to: X,
        extraUs: Math.round(this.rng.range(1.1, 1.6) * t.electionTimeoutMinMs * 1000),
      });
      this.world.apply({
        kind: 'partition',
        links: [[X, L]],
        label: `membership: transfer ${L} → ${X} with TimeoutNow late, ${X} cannot send to ${L}`,
      });
      for (const o of targets)
        if (o !== X)
          this.world.apply({
            kind: 'slow-link',
            from: o,
            to: L,
            extraUs: Math.round(this.rng.range(0.1, 0.6) * t.leaseDurationMs * 1000),
          });
      const end = Math.round(this.rng.range(2, 3) * t.electionTimeoutMaxMs * 1000);
      this.world.schedule(this.world.nowUs + end, { k: 'fault', action: { kind: 'heal' } });
      this.world.schedule(this.world.nowUs + end, { k: 'fault', action: { kind: 'clear-delays' } });
    }
    this.world.apply({ kind: 'transfer', target: X });
  }

  private tryStep(step: Step): boolean {
    const L = this.world.currentLeader();
    // One change at a time, and a disk lost or a transfer only once the last change committed: a
    // wipe while the leader's own removal is still uncommitted leaves no quorum in either configuration.
    if (L === null || !this.world.confCommitted(L)) return false;
    // A fault script (or this driver's own cut) holds the cluster: wait until it has played out.
    if (this.world.nowUs < this.world.heldUntilUs()) return false;
    if (step.kind === 'wipe') {
      this.wipe(L, step.id);
      return true;
    }
    if (step.kind === 'transfer') {
      this.slowTransfer(L);
      return true;
    }
    if (step.kind === 'raft-dev-2015') return this.raftDev2015(L, step.id);
    const context = new TextEncoder().encode(`sim ${step.id}`);
    if (!this.world.propose(L, { kind: step.kind, id: step.id, context })) return false;
    this.world.trace(`${step.kind} ${step.id} proposed at ${L}`);
    if (step.kind === 'add-learner') this.world.addNode(step.id, this.world.confOf(L));
    // The cut below leaves the leader's side just under a majority; the rest is a majority (and can
    // elect, so two leases can meet) exactly when the new count of voters is odd: cut mostly then.
    const odd = this.world.confOf(L).voters.length % 2 === 1;
    if (step.kind !== 'add-learner' && this.rng.chance(odd ? 0.7 : 0.25)) this.cutAfterChange(L, step.id);
    return true;
  }

  /**
   * After a change: the leader keeps just under a majority of the NEW configuration (a majority of
   * the old one when the change grew it), the rest (the new voter included) are cut off from it.
   * A lease counted in the wrong configuration, or with a voter that acknowledged nothing, outlives
   * the rest's belief in it and meets the lease they elect. To make that the worst split rather
   * than a lucky one, the leader's side is mostly its longest-standing peers (as often as possible
   * a majority of an older configuration), and what the rest has in flight to that side is lost
   * with the cut (a new voter's answers as a learner do not arrive after its promotion).
   */
  private cutAfterChange(L: NodeId, changed: NodeId): void {
    const cs = this.world.confOf(L);
    // Oldest first: ids are handed out in joining order (n1, n2, … then fresh ones).
    const others = cs.voters.filter((v) => v !== L && v !== changed).sort((a, b) => idNumber(a) - idNumber(b));
    const keep = Math.max(0, Math.floor(cs.voters.length / 2) - 1);
    const side = new Set<NodeId>([L]);
    const oldest = this.rng.chance(0.75);
    while (side.size - 1 < keep && others.length > 0)
      side.add(others.splice(oldest ? 0 : this.rng.int(0, others.length - 1), 1)[0]!);
    const rest = [...cs.voters, ...cs.learners].filter((v) => !side.has(v));
    const links: [NodeId, NodeId][] = [];
    const lossy: [NodeId, NodeId][] = [];
    for (const a of side)
      for (const b of rest) {
        links.push([a, b], [b, a]);
        lossy.push([b, a]);
      }
    const label = `membership: {${[...side].join(',')}} cut from {${rest.join(',')}} after the change of ${changed}`;
    // One microsecond later: the leader's next drive (the same instant, queued behind this event)
    // sends the change to everyone first, so the cut-off side has it in force.
    this.world.schedule(this.world.nowUs + 1, { k: 'fault', action: { kind: 'partition', links, lossy, label } });
    const t = this.s.timing;
    const healUs = this.world.nowUs + Math.round(this.rng.range(1, 3) * t.electionTimeoutMaxMs * 1000);
    this.world.schedule(healUs, { k: 'fault', action: { kind: 'heal', of: label } });
    // Nothing else (a swarm partition replacing this one, a pause or crash of the leader) may end
    // the split before the two sides' leases could meet: the rest elects within an election
    // timeout, and the leader's lease outlives its CheckQuorum by at most a lease.
    this.world.hold(
      Math.min(healUs, this.world.nowUs + Math.round((t.electionTimeoutMaxMs + t.leaseDurationMs) * 1000)),
    );
  }

  /**
   * The scenario of the single-server bug (Ongaro, raft-dev 2015), with voters {L, a, b, d} and
   * learner y: L is cut off with y and promotes y (C1 = 5 voters, only L and y have it); d receives
   * no log entries; a or b wins the next election and, if allowed before an entry of its term is
   * committed (it cannot be: d and L hold no entry of it), removes L (C2 = {a, b, d}, committed by
   * two of three); then {L, y, d} are cut from the rest and L, with C1's majority {L, y, d}, wins
   * and overwrites what C2 committed. The real core refuses the removal: nothing is lost.
   */
  private raftDev2015(L: NodeId, y: NodeId): boolean {
    const cs = this.world.confOf(L);
    if (cs.voters.length !== 4 || !cs.learners.includes(y)) return false;
    const t = this.s.timing;
    const others = cs.voters.filter((v) => v !== L);
    const d = this.rng.pick(others);
    const side = new Set<NodeId>([L, y]);
    const cut = (a: ReadonlySet<NodeId>, label: string): FaultAction => {
      const links: [NodeId, NodeId][] = [];
      for (const u of a) for (const v of [...cs.voters, ...cs.learners]) if (!a.has(v)) links.push([u, v], [v, u]);
      return { kind: 'partition', links, label };
    };
    this.world.apply(cut(side, `membership (raft-dev 2015): {${L},${y}} cut off, ${d} gets no entries`));
    this.world.apply({ kind: 'starve', node: d, on: true });
    const context = new TextEncoder().encode(`sim ${y}`);
    if (!this.world.propose(L, { kind: 'promote', id: y, context })) {
      this.world.apply({ kind: 'heal' });
      this.world.apply({ kind: 'starve', node: d, on: false });
      return false;
    }
    this.world.trace(`promote ${y} proposed at ${L}, reaches ${y} only`);
    const em = t.electionTimeoutMaxMs;
    const at = (ms: number, action: FaultAction): void =>
      this.world.schedule(this.world.nowUs + Math.round(ms * 1000), { k: 'fault', action });
    const remove: FaultAction = { kind: 'change', change: { kind: 'remove', id: L, context: new Uint8Array(0) } };
    for (let i = 0; i < 6; i++) at(1.3 * em + i * 250, remove);
    const t2 = 1.3 * em + 1600;
    at(t2, cut(new Set([L, y, d]), `membership (raft-dev 2015): {${L},${y},${d}} cut from the rest`));
    at(t2 + 2 * em, { kind: 'heal' });
    at(t2 + 2 * em, { kind: 'starve', node: d, on: false });
    this.waitUs = Math.round((t2 + 2 * em) * 1000);
    return true;
  }

  /**
   * The disk of X is lost while X backs the leader's lease. Half the time the others have been cut
   * off from the leader (and X) for a while, campaigning; X's replacement must not let them win
   * before the lease X helped form has expired. The real cluster never restarts X; the mutant
   * brings it back at once, on the campaigning side, with an empty disk.
   */
  private wipe(L: NodeId, X: NodeId): void {
    const t = this.s.timing;
    const cs = this.world.confOf(L);
    const all = [...cs.voters, ...cs.learners];
    const attack = this.rng.chance(0.6);
    let delayMs = 0;
    const supporters = new Set<NodeId>([L, X]);
    if (attack) {
      const need = Math.floor(cs.voters.length / 2) + 1;
      const pool = cs.voters.filter((v) => !supporters.has(v));
      while (supporters.size < need && pool.length > 0)
        supporters.add(pool.splice(this.rng.int(0, pool.length - 1), 1)[0]!);
      const rest = all.filter((v) => !supporters.has(v));
      const links: [NodeId, NodeId][] = [];
      for (const a of supporters) for (const b of rest) links.push([a, b], [b, a]);
      this.world.apply({
        kind: 'partition',
        links,
        label: `membership: ${X} backs ${L}'s lease, {${rest.join(',')}} cut off`,
      });
      delayMs = this.rng.range(1, 2.5) * t.electionTimeoutMaxMs;
    }
    const at = (ms: number, action: FaultAction): void =>
      this.world.schedule(this.world.nowUs + Math.round(ms * 1000), { k: 'fault', action });
    at(delayMs, { kind: 'wipe', node: X, rejoin: this.rejoin });
    this.waitUs = Math.round(delayMs * 1000);
    if (attack) {
      if (this.rejoin) {
        // X comes back on the campaigning side: cut from the leader's side only.
        const side = [...supporters].filter((v) => v !== X);
        const rest = all.filter((v) => !supporters.has(v) || v === X);
        const links: [NodeId, NodeId][] = [];
        for (const a of side) for (const b of rest) links.push([a, b], [b, a]);
        at(delayMs, {
          kind: 'partition',
          links,
          label: `membership: ${X} rejoins empty on the side of {${rest.join(',')}}`,
        });
      }
      at(delayMs + this.rng.range(1, 2) * t.electionTimeoutMaxMs, { kind: 'heal' });
    }
  }
}

/** The number in a simulated node's id (`n12` → 12): members join in increasing order. */
function idNumber(id: NodeId): number {
  return Number(id.slice(1));
}
