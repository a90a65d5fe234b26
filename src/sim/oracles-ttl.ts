// The TTL oracle (issue 14): keys with a time to live end neither early nor late, in true time, per
// the rule in docs/lease-safety.md ("TTL grants"):
// - never early: a grant's end by expiry (its `ttl-expire` entry applied anywhere, i.e. committed,
//   which deletes its keys) comes no earlier than ttl after the last true instant at which a node
//   answered its grant or a keep-alive of it — whatever leader changes happened in between;
// - not late: checked only where the bound is documented to hold — in the liveness phase (network
//   healed, every node up; no fault is injected any more) and only while one leader L has counted
//   without interruption (same term, never down or paused, its countdowns active, a majority of its
//   voters taking appends — not waiting for snapshots, which delay any commit beyond the commit
//   slack: polled every POLL_US, so `since` is at or after L really started counting). A grant whose keep-alives
//   stopped must then have ended by max(since, last answer) + lateBoundMs(ttl): ttl·(1+ρ) on L's
//   clock plus one check interval (the heartbeat), converted to true time at the slowest clock rate,
//   plus COMMIT_SLACK_MS for the expire's commit round trip and apply. The "+ one election" of the
//   documented bound is the time until such a leader exists, which the liveness oracle bounds.
import type { NodeId } from '../raft/types.ts';
import { fmtUs } from './oracles.ts';

/** Upper bound on proposing, committing and applying an expire on a healed network (fsync ≤ 20 ms, links ≤ 60 ms). */
const COMMIT_SLACK_MS = 500;
/** How often the liveness phase polls who counts. */
export const POLL_US = 50_000;

interface Grant {
  readonly id: number;
  readonly ttlMs: number;
  readonly client: number;
  /** The last true instant a node answered the grant or a keep-alive of it. */
  lastAnsweredUs: number;
  /** The client stopped keeping it alive. */
  stopped: boolean;
  endedUs: number | null;
}

export class TtlOracle {
  private readonly grants = new Map<number, Grant>();
  /** The leader counting without interruption in the liveness phase, since when (true µs). */
  private counting: { node: NodeId; term: number; sinceUs: number } | null = null;
  expired = 0;
  keepAlives = 0;
  /** Grants that ended while the late bound applied (liveness phase, a counting leader). */
  boundedEnds = 0;

  constructor(
    private readonly violation: (what: string) => void,
    private readonly rho: number,
    private readonly heartbeatMs: number,
  ) {}

  /** A node answered the grant (ok) or a keep-alive of it at true time `atUs`. */
  onAnswered(id: number, ttlMs: number, client: number, atUs: number, keepAlive: boolean): void {
    if (keepAlive) this.keepAlives++;
    const g = this.grants.get(id);
    if (g === undefined) {
      if (keepAlive) return;
      this.grants.set(id, { id, ttlMs, client, lastAnsweredUs: atUs, stopped: false, endedUs: null });
      return;
    }
    g.lastAnsweredUs = Math.max(g.lastAnsweredUs, atUs);
  }

  onStopped(id: number): void {
    const g = this.grants.get(id);
    if (g !== undefined) g.stopped = true;
  }

  /** The grant's expire was applied for the first time anywhere (so it committed) at `atUs`. */
  onExpired(id: number, node: NodeId, atUs: number): void {
    const g = this.grants.get(id);
    if (g === undefined || g.endedUs !== null) return;
    g.endedUs = atUs;
    this.expired++;
    if (this.counting !== null && g.stopped) this.boundedEnds++;
    const earliest = g.lastAnsweredUs + g.ttlMs * 1000;
    if (atUs < earliest)
      this.violation(
        `ttl early: grant ${g.id} (ttl ${g.ttlMs}ms, client ${g.client}) expired at ${node} at true time ${fmtUs(atUs)}, ` +
          `only ${fmtUs(atUs - g.lastAnsweredUs)} after its last acknowledged grant/keep-alive at ${fmtUs(g.lastAnsweredUs)}`,
      );
  }

  /** How long after max(since, last answer) a stopped grant may still exist. */
  lateBoundUs(ttlMs: number): number {
    return Math.ceil(((ttlMs * (1 + this.rho) + this.heartbeatMs) / (1 - this.rho) + COMMIT_SLACK_MS) * 1000);
  }

  /**
   * Liveness phase, every POLL_US: `leader` is the unique leader that is up, running and counting
   * (null if there is none). Checks the late bound for every stopped grant.
   */
  poll(leader: { node: NodeId; term: number } | null, nowUs: number): void {
    const c = this.counting;
    if (leader === null) {
      this.counting = null;
      return;
    }
    if (c === null || c.node !== leader.node || c.term !== leader.term) this.counting = { ...leader, sinceUs: nowUs };
    const since = this.counting!.sinceUs;
    for (const g of this.grants.values()) {
      if (!g.stopped || g.endedUs !== null) continue;
      const due = Math.max(since, g.lastAnsweredUs) + this.lateBoundUs(g.ttlMs);
      if (nowUs <= due) continue;
      this.violation(
        `ttl late: grant ${g.id} (ttl ${g.ttlMs}ms, client ${g.client}) still exists at true time ${fmtUs(nowUs)}; ` +
          `its last keep-alive was answered at ${fmtUs(g.lastAnsweredUs)} and ${leader.node} has led and counted since ${fmtUs(since)}`,
      );
      return;
    }
  }

  /** Some grant's keep-alives stopped and it has not ended yet. */
  get pending(): boolean {
    for (const g of this.grants.values()) if (g.stopped && g.endedUs === null) return true;
    return false;
  }
}
