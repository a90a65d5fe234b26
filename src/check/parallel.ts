// The asynchronous checker: like checkHistorySync, but hard histories are spread over worker
// threads (groups of parts, balanced by size). Workers cost ~0.3-1 s each to start (tsx compiles
// the sources per thread), so by default the check first runs on this thread for
// SOLO_FIRST_MS; only parts still undecided then (if two or more) go to workers. The first worker
// to report a violation decides the verdict and the others are terminated; the time budget is
// enforced here too, so a stuck worker can never hang the caller.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HistoryOp } from './history.ts';
import {
  combine,
  normalize,
  partitionHistory,
  runInterleaved,
  validateOptions,
  DEFAULT_MAX_CACHED_STATES,
  type CheckOptions,
  type CheckResult,
  type PartOutcome,
} from './checker.ts';
import { modelByName } from './models.ts';
import type { WorkerInput } from './worker.ts';

export interface AsyncCheckOptions extends CheckOptions {
  /** Worker threads for all parts; 1 = this thread only. Default: automatic (see SOLO_FIRST_MS). */
  readonly workers?: number;
}

/** Automatic mode: how long this thread works alone before undecided parts go to workers. */
export const SOLO_FIRST_MS = 2_000;
export const MAX_WORKERS = 16;
/** Grace beyond the budget for workers to report before they are terminated. */
const WORKER_GRACE_MS = 1_000;

/** Splits parts into at most `count` groups of similar total size (largest first, greedy). */
export function groupParts<T>(
  parts: readonly (readonly [string, readonly T[]])[],
  count: number,
): (readonly [string, readonly T[]])[][] {
  const groups = Array.from({ length: Math.min(count, parts.length) }, () => ({
    size: 0,
    parts: [] as (readonly [string, readonly T[]])[],
  }));
  const bySize = [...parts].sort((a, b) => b[1].length - a[1].length);
  for (const p of bySize) {
    let best = groups[0] as (typeof groups)[number];
    for (const g of groups) if (g.size < best.size) best = g;
    best.parts.push(p);
    best.size += p[1].length;
  }
  return groups.map((g) => g.parts).filter((g) => g.length > 0);
}

export async function checkHistory(ops: readonly HistoryOp[], opts: AsyncCheckOptions): Promise<CheckResult> {
  validateOptions(opts);
  const w = opts.workers;
  if (w !== undefined && !(Number.isSafeInteger(w) && w >= 1 && w <= MAX_WORKERS))
    throw new RangeError(`workers must be in [1, ${MAX_WORKERS}], got ${w}`);
  const startMs = performance.now();
  const model = modelByName(opts.model ?? 'kv');
  const normalized = normalize(ops);
  const parts = partitionHistory(model, normalized);
  const maxCachedStates = opts.maxCachedStates ?? DEFAULT_MAX_CACHED_STATES;
  const deadlineMs = startMs + opts.timeoutMs;
  let outcomes: PartOutcome[];
  let toWorkers: (readonly [string, readonly HistoryOp[]])[];
  if (w === undefined) {
    // Automatic: this thread first; hand over what is still open when the solo time is up.
    outcomes = runInterleaved(model, parts, Math.min(deadlineMs, startMs + SOLO_FIRST_MS), maxCachedStates);
    const open = new Set(
      outcomes
        .filter((o) => o.result.kind === 'unknown' && o.result.reason === 'time budget exhausted')
        .map((o) => o.key),
    );
    const canSpread =
      open.size >= 2 &&
      availableParallelism() >= 2 &&
      performance.now() < deadlineMs &&
      !outcomes.some((o) => o.result.kind === 'violation');
    toWorkers = canSpread ? parts.filter(([k]) => open.has(k)) : [];
    if (canSpread) outcomes = outcomes.filter((o) => !open.has(o.key));
  } else if (w === 1) {
    outcomes = runInterleaved(model, parts, deadlineMs, maxCachedStates);
    toWorkers = [];
  } else {
    outcomes = [];
    toWorkers = parts;
  }
  if (toWorkers.length > 0) {
    const count = Math.min(w ?? availableParallelism(), MAX_WORKERS, toWorkers.length);
    const remainingMs = Math.max(1, deadlineMs - performance.now());
    const input = { model: model.name, deadlineEpochMs: Date.now() + remainingMs, maxCachedStates };
    outcomes.push(...(await runWorkers(groupParts(toWorkers, count), input, remainingMs)));
  }
  // Parts a worker never reported (it failed, or the parent's deadline hit first) are undecided.
  const reported = new Set(outcomes.map((o) => o.key));
  const violated = outcomes.some((o) => o.result.kind === 'violation');
  if (!violated) {
    for (const [key, partOps] of parts) {
      if (!reported.has(key))
        outcomes.push({
          key,
          ops: partOps,
          result: { kind: 'unknown', reason: 'worker did not report (failed or past the budget)', longestPrefix: [] },
        });
    }
  }
  const order = new Map(parts.map(([k], i) => [k, i]));
  outcomes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
  return combine(model, outcomes, { parts: parts.length, opsChecked: normalized.length, startMs });
}

/**
 * Code for `new Worker(code, { eval: true })` that loads worker.ts as this module was loaded: through
 * tsx from the sources (Node 20 does not pass the parent's loader to a worker), or the compiled
 * worker.js from dist/ (check/ imports nothing else: the same as src/util/worker-boot.ts).
 */
function workerBoot(): string {
  if (!import.meta.url.endsWith('.ts'))
    return `import(${JSON.stringify(new URL('./worker.js', import.meta.url).href)})`;
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const target = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return `import(${api}).then((m) => { m.register(); return import(${target}); })`;
}

function runWorkers(
  groups: readonly (readonly (readonly [string, readonly HistoryOp[]])[])[],
  base: Omit<WorkerInput, 'parts'>,
  timeoutMs: number,
): Promise<PartOutcome[]> {
  const boot = workerBoot();
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
    const timer = setTimeout(finish, timeoutMs + WORKER_GRACE_MS);
    for (const parts of groups) {
      const input: WorkerInput = { ...base, parts };
      const wk = new Worker(boot, { eval: true, workerData: input });
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
