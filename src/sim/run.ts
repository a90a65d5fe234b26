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
