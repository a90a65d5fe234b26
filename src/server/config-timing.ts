// The lease inequalities (docs/lease-safety.md, "The inequality") in the operator's terms: the
// flags to change and the values that would do. The core checks the same rules again
// (validateRaftConfig) in its own terms, for the simulator as well; these run first so that an
// operator reads --lease-ms, not leaseDurationMs (session 11 operator audit).
import { NodeConfigError } from './config-flags.ts';

/** The longest lease (whole ms) with lease·(1+ρ)/(1−ρ) < the shortest election timeout. */
export function longestLeaseMs(electionTimeoutMinMs: number, rho: number): number {
  let ms = Math.floor((electionTimeoutMinMs * (1 - rho)) / (1 + rho));
  while (ms > 0 && (ms * (1 + rho)) / (1 - rho) >= electionTimeoutMinMs) ms--;
  return ms;
}

export interface Timings {
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMinMs: number;
  readonly leaseDurationMs: number;
  readonly maxClockDriftRate: number;
}

/** Throws a NodeConfigError naming the flags and the values that would satisfy both rules. */
export function checkTimings(t: Timings): void {
  const rho = t.maxClockDriftRate;
  const pct = `${+(rho * 100).toFixed(2)}%`;
  const longest = (t.leaseDurationMs * (1 + rho)) / (1 - rho);
  if (!(longest < t.electionTimeoutMinMs)) {
    throw new NodeConfigError(
      `--lease-ms ${t.leaseDurationMs} is too long for --election-timeout-ms ${t.electionTimeoutMinMs} at --max-drift-rate ${rho}: ` +
        `the lease as another clock may see it (lease·(1+ρ)/(1−ρ) = ${longest.toFixed(1)} ms) must end before the shortest election timeout, ` +
        `or a new leader could be elected while this one still answers lease reads (docs/lease-safety.md). ` +
        `Use --lease-ms ${longestLeaseMs(t.electionTimeoutMinMs, rho)} or less, or --election-timeout-ms ${Math.floor(longest) + 1} or more`,
    );
  }
  const leaderLeaseMs = t.leaseDurationMs * (1 - rho);
  if (t.heartbeatIntervalMs * 3 > leaderLeaseMs) {
    throw new NodeConfigError(
      `--heartbeat-ms ${t.heartbeatIntervalMs} is more than a third of the lease (--lease-ms ${t.leaseDurationMs} less the ${pct} drift bound = ${leaderLeaseMs.toFixed(1)} ms): ` +
        `two lost heartbeats would end it. Use --heartbeat-ms ${Math.floor(leaderLeaseMs / 3)} or less, ` +
        `or a longer lease (--lease-ms ${Math.ceil((3 * t.heartbeatIntervalMs) / (1 - rho))} or more, with --election-timeout-ms above it)`,
    );
  }
}
