// simulateSeed: one seed of the simulator with the real host, core and state machine, plus the linearizability
// checker over the seed's client history as a final oracle.
import { checkHistorySync } from '../check/checker.ts';
import { validateRaftConfig } from '../raft/config.ts';
import type { RaftConfig } from '../raft/config.ts';
import { MUTANTS } from '../raft/types.ts';
import type { Mutant } from '../raft/types.ts';
import type { SimMutant } from './scenario.ts';
import { runSeed } from './cluster.ts';
import type { CoreArgs, SeedResult } from './cluster.ts';

export interface SimulateOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly mutant: SimMutant | null;
  readonly verbose?: ((line: string) => void) | undefined;
  /** Wall-clock budget for the linearizability check of this seed's history. */
  readonly linCheckBudgetMs?: number;
}

export interface SimulateResult extends SeedResult {
  /** The checker's verdict: linearizable / not-linearizable / unknown (budget) / skipped. */
  readonly linearizability: string;
}

/**
 * A few entries only (each counts its data plus ENTRY_OVERHEAD_BYTES): lagging followers are served
 * from storage reads (Ready.logReads) all the time, not only in rare seeds (issue 16).
 */
const SIM_LOG_WINDOW_BYTES = 1024;
const SIM_APPEND_HOLD_MS = [0, 0.5, 2, 5, 20] as const;
const SIM_APPEND_HOLD_ENTRIES = [2, 8, 64] as const;

/** The core's configuration for a simulated node: the seed's timing, and the core mutant if the seed has one. */
export function simRaftConfig(a: CoreArgs): RaftConfig {
  const t = a.scenario.timing;
  const m = a.scenario.mutant;
  return validateRaftConfig({
    id: a.id,
    members: a.members,
    learners: a.learners,
    heartbeatIntervalMs: t.heartbeatIntervalMs,
    electionTimeoutMinMs: t.electionTimeoutMinMs,
    electionTimeoutMaxMs: t.electionTimeoutMaxMs,
    leaseDurationMs: t.leaseDurationMs,
    maxClockDriftRate: t.maxClockDriftRate,
    logWindowBytes: SIM_LOG_WINDOW_BYTES,
    // Appends held back (session 13's coalescing rule) in four seeds of five, from a short hold to a
    // fifth of a heartbeat, ended early by 2 to 64 waiting entries; chosen by the seed, not drawn
    // from the scenario's generator, so every seed's faults and timing are what they were.
    appendHoldMs: SIM_APPEND_HOLD_MS[a.scenario.seed % SIM_APPEND_HOLD_MS.length] as number,
    appendHoldEntries: SIM_APPEND_HOLD_ENTRIES[
      Math.floor(a.scenario.seed / 5) % SIM_APPEND_HOLD_ENTRIES.length
    ] as number,
    ...(m !== null && (MUTANTS as readonly string[]).includes(m) ? { mutant: m as Mutant } : {}),
  });
}

export function simulateSeed(o: SimulateOptions): SimulateResult {
  const r = runSeed({
    seed: o.seed,
    nodes: o.nodes,
    mutant: o.mutant,
    raftConfig: simRaftConfig,
    ...(o.verbose !== undefined ? { verbose: o.verbose } : {}),
  });
  if (r.violations.length > 0) return { ...r, linearizability: 'skipped' };
  const check = checkHistorySync(r.history, { timeoutMs: o.linCheckBudgetMs ?? 2000, maxCachedStates: 200_000 });
  if (check.verdict !== 'not-linearizable') return { ...r, linearizability: check.verdict };
  const v = check.violation;
  const what = v !== undefined ? `key ${v.key}: ${v.reason ?? 'no linearization'} (${v.ops.length} ops)` : '';
  return {
    ...r,
    violations: [`linearizability: client history not linearizable ${what}`],
    linearizability: check.verdict,
  };
}
