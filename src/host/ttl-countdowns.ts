// The leader's countdowns for TTL grants (issue 14). The state machine knows which grants exist
// and their TTL; only the leader counts, on its monotonic clock, and proposes `ttl-expire` when a
// grant's time is up. Rules (docs/lease-safety.md, "TTL grants"):
// - Counting starts only when this leader may serve lease reads (the previous leader's lease is
//   over, and this term's first entry is applied, so every expire an old leader proposed is applied
//   already), and then every countdown starts in FULL: a grant never ends early because leadership
//   moved.
// - A countdown is ttl × (1 + maxClockDriftRate) on this clock, restarted by a keep-alive or a
//   grant, so a fast clock cannot end a grant before ttl of true time after its last keep-alive.
// - A leader that steps down stops counting; its expires still in flight are only proposals.
import type { TtlGrant } from '../kv/ttl.ts';
import type { HostMutant } from './types.ts';

export class TtlCountdowns {
  private readonly deadlines = new Map<number, number>();
  /** Expires proposed and not yet applied (not proposed again until they fail). */
  private readonly expiring = new Set<number>();
  private counting = false;

  /** ttl × driftFactor on this clock is at least ttl of true time. */
  private readonly driftFactor: number;
  /**
   * MUTANT ttl-no-restart-on-leader-change: every node counts from the grants it applied and the
   * keep-alives it answered, and a new leader keeps those countdowns instead of starting them in
   * full (so a grant whose keep-alives went to the old leader ends early).
   */
  private readonly keepOld: boolean;

  constructor(maxClockDriftRate: number, mutant?: HostMutant) {
    // MUTANT ttl-expire-early: counts ttl on a clock that may run fast.
    this.driftFactor = mutant === 'ttl-expire-early' ? 1 : 1 + maxClockDriftRate;
    this.keepOld = mutant === 'ttl-no-restart-on-leader-change';
  }

  get active(): boolean {
    return this.counting;
  }

  get size(): number {
    return this.deadlines.size;
  }

  start(nowMs: number, grants: readonly TtlGrant[]): void {
    this.counting = true;
    if (!this.keepOld) this.deadlines.clear();
    this.expiring.clear();
    for (const g of grants) if (!this.deadlines.has(g.id)) this.deadlines.set(g.id, nowMs + g.ttlMs * this.driftFactor);
  }

  stop(): void {
    this.counting = false;
    if (!this.keepOld) this.deadlines.clear();
    this.expiring.clear();
  }

  /** A grant was made, or kept alive: its countdown (re)starts in full. */
  restart(id: number, ttlMs: number, nowMs: number): void {
    if (this.counting || this.keepOld) this.deadlines.set(id, nowMs + ttlMs * this.driftFactor);
  }

  /**
   * A keep-alive the leader answers (after confirming its leadership): restarts the countdown in
   * full, unless the grant's expire is already proposed — that entry may commit after this answer,
   * so the answer is "not found" (as etcd's lessor does), never an acknowledgement (found by the
   * simulator's TTL oracle, docs/simulator.md). False: refuse the keep-alive.
   */
  keepAlive(id: number, ttlMs: number, nowMs: number): boolean {
    if (!this.counting || this.expiring.has(id)) return false;
    this.restart(id, ttlMs, nowMs);
    return true;
  }

  ended(id: number): void {
    this.deadlines.delete(id);
    this.expiring.delete(id);
  }

  /** Grants whose time is up and that are not being expired yet; marks them as being expired. */
  due(nowMs: number): number[] {
    const out: number[] = [];
    for (const [id, at] of this.deadlines) {
      if (at <= nowMs && !this.expiring.has(id)) {
        this.expiring.add(id);
        out.push(id);
      }
    }
    return out;
  }

  /** The expire proposal failed (no commit): propose again on the next check. */
  retry(id: number): void {
    this.expiring.delete(id);
  }

  remainingMs(id: number, nowMs: number): number | undefined {
    const at = this.deadlines.get(id);
    return at === undefined ? undefined : Math.max(0, at - nowMs);
  }
}
