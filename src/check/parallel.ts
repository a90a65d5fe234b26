// The asynchronous checker: like checkHistorySync, but large histories are split over worker
// threads (groups of parts, balanced by size). The first worker to report a violation decides
// the verdict and the others are terminated; the time budget is enforced here too, so a stuck
// worker can never hang the caller.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HistoryOp } from './history.ts';
import { combine, checkHistorySync, normalize, partitionHistory, validateOptions, DEFAULT_MAX_CACHED_STATES, type CheckOptions, type CheckResult, type PartOutcome } from './checker.ts';
import { modelByName } from './models.ts';
import type { WorkerInput } from './worker.ts';

export interface AsyncCheckOptions extends CheckOptions {
  /** Worker threads to use; 1 = check on this thread. Default: automatic (see PARALLEL_MIN_OPS). */
  readonly workers?: number;
}

/** Below this many operations, starting workers (~0.3 s each with tsx) costs more than it saves. */
export const PARALLEL_MIN_OPS = 5_000;
export const MAX_WORKERS = 16;
/** Grace beyond the budget for workers to report before they are terminated. */
const WORKER_GRACE_MS = 1_000;

/** Splits parts into at most `count` groups of similar total size (largest first, greedy). */
export function groupParts<T>(parts: readonly (readonly [string, readonly T[]])[], count: number): (readonly [string, readonly T[]])[][] {
  const groups = Array.from({ length: Math.min(count, parts.length) }, () => ({ size: 0, parts: [] as (readonly [string, readonly T[]])[] }));
  const bySize = [...parts].sort((a, b) => b[1].length - a[1].length);
  for (const p of bySize) {
    let best = groups[0] as (typeof groups)[number];
    for (const g of groups) if (g.size < best.size) best = g;
    best.parts.push(p);
    best.size += p[1].length;
  }
  return groups.map((g) => g.parts).filter((g) => g.length > 0);
}

function autoWorkers(opsCount: number, partCount: number): number {
  if (opsCount < PARALLEL_MIN_OPS || partCount < 2) return 1;
  return Math.max(1, Math.min(availableParallelism(), MAX_WORKERS, partCount));
}

export async function checkHistory(ops: readonly HistoryOp[], opts: AsyncCheckOptions): Promise<CheckResult> {
  validateOptions(opts);
  const w = opts.workers;
  if (w !== undefined && !(Number.isSafeInteger(w) && w >= 1 && w <= MAX_WORKERS)) throw new RangeError(`workers must be in [1, ${MAX_WORKERS}], got ${w}`);
  const startMs = performance.now();
  const model = modelByName(opts.model ?? 'kv');
  const normalized = normalize(ops);
  const parts = partitionHistory(model, normalized);
  const workers = Math.min(w ?? autoWorkers(normalized.length, parts.length), parts.length);
  if (workers <= 1) return checkHistorySync(ops, opts);
  const groups = groupParts(parts, workers);
  const outcomes = await runWorkers(groups, {
    model: model.name,
    timeoutMs: opts.timeoutMs,
    maxCachedStates: opts.maxCachedStates ?? DEFAULT_MAX_CACHED_STATES,
  });
  // Parts a worker never reported (it failed, or the parent's deadline hit first) are undecided.
  const reported = new Set(outcomes.map((o) => o.key));
  const violated = outcomes.some((o) => o.result.kind === 'violation');
  if (!violated) {
    for (const [key, partOps] of parts) {
      if (!reported.has(key)) outcomes.push({ key, ops: partOps, result: { kind: 'unknown', reason: 'worker did not report (failed or past the budget)', longestPrefix: [] } });
    }
  }
  const order = new Map(parts.map(([k], i) => [k, i]));
  outcomes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
  return combine(model, outcomes, { parts: parts.length, opsChecked: normalized.length, startMs });
}

function runWorkers(groups: readonly (readonly (readonly [string, readonly HistoryOp[]])[])[], base: Omit<WorkerInput, 'parts'>): Promise<PartOutcome[]> {
  const url = new URL('./worker-boot.mjs', import.meta.url);
  return new Promise((resolve) => {
    const outcomes: PartOutcome[] = [];
    const running = new Set<Worker>();
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const wk of running) void wk.terminate();
      resolve(outcomes);
    };
    const timer = setTimeout(finish, base.timeoutMs + WORKER_GRACE_MS);
    for (const parts of groups) {
      const input: WorkerInput = { ...base, parts };
      const wk = new Worker(url, { workerData: input });
      running.add(wk);
      const done = (): void => {
        running.delete(wk);
        if (running.size === 0) finish();
      };
      wk.on('message', (msg: PartOutcome[]) => {
        outcomes.push(...msg);
        if (msg.some((o) => o.result.kind === 'violation')) finish();
        else done();
      });
      wk.on('error', done);
      wk.on('exit', done);
    }
  });
}
