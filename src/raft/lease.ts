// Leader leases: the clock arithmetic, the leader's own lease and what other nodes believe about it.
// The argument for every factor here is in docs/lease-safety.md; the short version:
//   - clocks are monotonic and run at a rate within [1−ρ, 1+ρ] of true time, never synchronized;
//   - a holder SHORTENS what it believes it holds by (1−ρ), so it ends no later in true time than
//     the duration it claimed;
//   - an observer LENGTHENS what it believes others hold by (1+ρ), so its belief ends no earlier.
import type { RaftConfig } from './config.ts';
import { quorumValue } from './confchange.ts';
import type { NodeId } from './types.ts';

/** The drift bound as the core uses it; the `no-drift-margin` mutant ignores ρ on both sides. */
export function effectiveDrift(cfg: RaftConfig): number {
  // MUTANT no-drift-margin: ρ ignored everywhere.
  return cfg.mutant === 'no-drift-margin' ? 0 : cfg.maxClockDriftRate;
}

/** The leader's own view of `durationMs` of lease, on its own clock: shortened. */
export function holderSpan(cfg: RaftConfig, durationMs: number): number {
  return durationMs * (1 - effectiveDrift(cfg));
}

/** An observer's view of a lease of `durationMs` that it heard about: lengthened. */
export function observerSpan(cfg: RaftConfig, durationMs: number): number {
  return durationMs * (1 + effectiveDrift(cfg));
}

/**
 * A remaining old lease `remainingMs` measured on a VOTER's clock, turned into a wait on ours.
 * The voter's clock runs at >= (1−ρ), so its remaining lasts at most remaining/(1−ρ) true ms after it
 * replied; ours runs at <= (1+ρ), so waiting W of our ms takes at least W/(1+ρ) true ms, and the
 * message took >= 0 to arrive. W/(1+ρ) >= remaining/(1−ρ)  ⇔  W = remaining·(1+ρ)/(1−ρ).
 */
export function transferSpan(cfg: RaftConfig, remainingMs: number): number {
  const rho = effectiveDrift(cfg);
  return (remainingMs * (1 + rho)) / (1 - rho);
}

/**
 * The leader's lease. Rounds are numbered from 1 within one leadership term; every AppendRequest
 * carries the latest round, acknowledgements echo it. Invariant: `untilMs` never decreases within a
 * term, and the lease is valid at t iff !givenUp && waitUntilMs <= t < untilMs.
 * The quorum is a majority of the voters in force when the quorum is counted (`voters()`), the
 * leader counting itself only while it is a voter (a leader removing itself does not).
 */
export class LeaderLease {
  round = 0;
  /** Send time of each round not yet superseded by the quorum round (bounded by pruning). */
  private readonly sendTimes = new Map<number, number>();
  private readonly acked = new Map<NodeId, number>();
  quorumRound = 0;
  untilMs = Number.NEGATIVE_INFINITY;
  /** The old leader's lease has certainly expired from this time on (own clock). */
  readonly waitUntilMs: number;
  /** Set by transferLeadership: no lease reads for the rest of this term, and acks revive nothing. */
  givenUp = false;
  /** Whether 'lease-acquired' was reported (so expiry means renewal failed). */
  acquired = false;

  /** MUTANT new-voter-counts-before-ack: promoted voters counted as acknowledging every round. */
  private readonly assumed = new Set<NodeId>();

  constructor(
    private readonly cfg: RaftConfig,
    private readonly self: NodeId,
    private readonly voters: () => readonly NodeId[],
    waitUntilMs: number,
  ) {
    this.waitUntilMs = waitUntilMs;
  }

  /**
   * `id` just became a voter: it counts toward the lease only once it has acknowledged a round as
   * one (docs/lease-safety.md, "Leases across configurations").
   */
  onPromoted(id: NodeId, nowMs: number): void {
    this.acked.delete(id);
    // MUTANT new-voter-counts-before-ack: counted as if it had acknowledged the latest round.
    if (this.cfg.mutant === 'new-voter-counts-before-ack') this.assumed.add(id);
    this.recompute(nowMs);
  }

  isValid(nowMs: number): boolean {
    return !this.givenUp && nowMs >= this.waitUntilMs && nowMs < this.untilMs;
  }

  /**
   * MUTANT transfer-resumes-lease only: lead on after a timed-out transfer with the lease the
   * acknowledgements received meanwhile would have given (what etcd-io/raft#99 amounted to).
   */
  resumeAfterTransfer(): void {
    this.givenUp = false;
    const sentMs = this.sendTimes.get(this.quorumRound);
    if (sentMs !== undefined)
      this.untilMs = Math.max(this.untilMs, sentMs + holderSpan(this.cfg, this.cfg.leaseDurationMs));
  }

  /** Recounts after the voters changed (the quorum round never moves back). */
  recount(nowMs: number): void {
    this.recompute(nowMs);
  }

  /** Starts a new round sent at nowMs; returns its number. */
  startRound(nowMs: number): number {
    this.round++;
    this.sendTimes.set(this.round, nowMs);
    this.recompute(nowMs);
    return this.round;
  }

  /** A peer acknowledged `round` (or a later one). Returns true if the quorum round advanced. */
  onAck(peer: NodeId, round: number, nowMs: number): boolean {
    if (!Number.isInteger(round) || round < 1 || round > this.round) return false;
    this.assumed.delete(peer);
    const prev = this.acked.get(peer) ?? 0;
    if (round <= prev) return false;
    this.acked.set(peer, round);
    return this.recompute(nowMs);
  }

  private recompute(nowMs: number): boolean {
    // The leader itself has "acknowledged" every round it sent.
    const q = quorumValue(this.voters(), (p) =>
      p === this.self || this.assumed.has(p) ? this.round : (this.acked.get(p) ?? 0),
    );
    if (q <= this.quorumRound) return false;
    this.quorumRound = q;
    const sentMs = this.sendTimes.get(q);
    for (const r of this.sendTimes.keys()) if (r < q) this.sendTimes.delete(r);
    if (sentMs !== undefined && !this.givenUp) {
      // MUTANT lease-from-ack: the lease is dated from when the acknowledgement arrived.
      const startMs = this.cfg.mutant === 'lease-from-ack' ? nowMs : sentMs;
      this.untilMs = Math.max(this.untilMs, startMs + holderSpan(this.cfg, this.cfg.leaseDurationMs));
    }
    return true;
  }
}
