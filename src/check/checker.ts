// Checking a whole history: normalize, split per key (P-compositionality: a history is
// linearizable iff each object's sub-history is — Herlihy & Wing, Theorem 1), search each part,
// and combine. A violation in any part is a violation of the whole, whatever the other parts say;
// otherwise any part that ran out of budget makes the whole 'unknown'.
import type { HistoryOp } from './history.ts';
import { modelByName, type Model, type ModelName, type Value } from './models.ts';
import { PartitionSearch, type SearchResult } from './search.ts';

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckOptions {
  /** Budget for the whole check; past it the verdict is 'unknown'. */
  readonly timeoutMs: number;
  /** Default 'kv'. */
  readonly model?: ModelName;
  /** Memory bound: memoized states per thread, all parts together. Default 4,000,000. */
  readonly maxCachedStates?: number;
}

export interface Unplaced {
  /** Index into PartReport.ops. */
  readonly index: number;
  readonly why: string;
}

/** One part (key) that is not linearizable or whose check ran out of budget. */
export interface PartReport {
  readonly key: string;
  readonly verdict: Exclude<Verdict, 'linearizable'>;
  /** The part's operations as checked ('fail' ops and unknown gets removed). */
  readonly ops: readonly HistoryOp[];
  /** Indices into ops: the longest linearizable prefix the search found, in linearization order. */
  readonly longestPrefix: readonly number[];
  /** Model state after that prefix. */
  readonly stateAfterPrefix: Value;
  /** Operations that were due next after the prefix (call before the earliest pending return). */
  readonly unplaced: readonly Unplaced[];
  readonly reason?: string;
}

export interface CheckResult {
  readonly verdict: Verdict;
  readonly model: ModelName;
  readonly parts: number;
  readonly opsChecked: number;
  readonly elapsedMs: number;
  /** The first part found not linearizable. */
  readonly violation?: PartReport;
  /** Parts that ran out of budget (only when there is no violation). */
  readonly undecided: readonly PartReport[];
}

export const DEFAULT_MAX_CACHED_STATES = 4_000_000;
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

export function validateOptions(opts: CheckOptions): void {
  if (!(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0 && opts.timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new RangeError(`timeoutMs must be in (0, ${MAX_TIMEOUT_MS}], got ${opts.timeoutMs}`);
  }
  const m = opts.maxCachedStates;
  if (m !== undefined && !(Number.isSafeInteger(m) && m > 0))
    throw new RangeError(`maxCachedStates must be a positive integer, got ${m}`);
}

/** Drops what cannot matter: failed ops never took effect; an unknown get neither acts nor observes. */
export function normalize(ops: readonly HistoryOp[]): HistoryOp[] {
  return ops.filter((o) => o.outcome !== 'fail' && !(o.outcome === 'unknown' && o.op === 'get'));
}

/** Splits a normalized history; parts are ordered by key so that results are deterministic. */
export function partitionHistory(model: Model, ops: readonly HistoryOp[]): [string, HistoryOp[]][] {
  return [...model.partition(ops).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function effectiveReturn(op: HistoryOp): number {
  return op.outcome === 'unknown' || op.return === null ? Infinity : op.return;
}

/** Turns a failed or undecided search into a report a person can act on. */
export function describePart(
  whole: Model,
  key: string,
  ops: readonly HistoryOp[],
  r: Exclude<SearchResult, { kind: 'linearizable' }>,
): PartReport {
  const model = whole.forPart?.(ops) ?? whole;
  let state = model.init;
  for (const i of r.longestPrefix) state = model.step(state, ops[i] as HistoryOp) ?? state;
  const placed = new Set(r.longestPrefix);
  const remaining = ops.map((_, i) => i).filter((i) => !placed.has(i));
  // A loop, not Math.min(...spread): parts can hold more operations than the call stack allows.
  const due = remaining.reduce((m, i) => Math.min(m, effectiveReturn(ops[i] as HistoryOp)), Infinity);
  const unplaced: Unplaced[] = remaining
    .filter((i) => (ops[i] as HistoryOp).call <= due)
    .map((i) => {
      const op = ops[i] as HistoryOp;
      const why = model.explain(state, op) ?? 'allowed here, but no linearization of the rest follows';
      return { index: i, why };
    });
  const base = { key, ops, longestPrefix: r.longestPrefix, stateAfterPrefix: state, unplaced };
  return r.kind === 'violation'
    ? { ...base, verdict: 'not-linearizable' }
    : { ...base, verdict: 'unknown', reason: r.reason };
}

export interface PartOutcome {
  readonly key: string;
  readonly ops: readonly HistoryOp[];
  readonly result: SearchResult;
}

/** Steps one part runs before the scheduler moves to the next one (a few ms of work). */
export const SLICE_STEPS = 5_000;

/**
 * Runs the parts' searches interleaved on this thread, round-robin in slices, until every part is
 * decided, one is not linearizable, or the deadline passes. Interleaving matters: a hard part
 * (one whose search space is huge) must not hide an easy violation in another (Porcupine gets the
 * same effect from one goroutine per part). `deadlineMs` is on this thread's performance.now().
 */
export function runInterleaved(
  model: Model,
  parts: readonly (readonly [string, readonly HistoryOp[]])[],
  deadlineMs: number,
  maxCachedStates: number,
): PartOutcome[] {
  const budget = { remaining: maxCachedStates };
  const searches = parts.map(([key, ops]) => ({
    key,
    ops,
    search: new PartitionSearch(model.forPart?.(ops) ?? model, ops, budget),
  }));
  let active = searches;
  let violationFound = false;
  while (active.length > 0 && !violationFound) {
    const still: typeof searches = [];
    for (const a of active) {
      if (violationFound) {
        a.search.stop('not needed: another part is not linearizable');
        continue;
      }
      const r = performance.now() > deadlineMs ? a.search.stop('time budget exhausted') : a.search.advance(SLICE_STEPS);
      if (r === undefined) still.push(a);
      else if (r.kind === 'violation') violationFound = true;
    }
    active = still;
  }
  for (const a of active) a.search.stop('not needed: another part is not linearizable');
  return searches.map((a) => ({ key: a.key, ops: a.ops, result: a.search.done as SearchResult }));
}

/** Combines per-part outcomes (in part order) into the verdict. */
export function combine(
  model: Model,
  outcomes: readonly PartOutcome[],
  meta: { parts: number; opsChecked: number; startMs: number },
): CheckResult {
  const undecided: PartReport[] = [];
  const base = { model: model.name, parts: meta.parts, opsChecked: meta.opsChecked };
  for (const o of outcomes) {
    if (o.result.kind === 'violation') {
      const violation = describePart(model, o.key, o.ops, o.result);
      return {
        ...base,
        verdict: 'not-linearizable',
        violation,
        undecided: [],
        elapsedMs: performance.now() - meta.startMs,
      };
    }
    if (o.result.kind === 'unknown') undecided.push(describePart(model, o.key, o.ops, o.result));
  }
  const complete = outcomes.length === meta.parts;
  const verdict: Verdict = undecided.length === 0 && complete ? 'linearizable' : 'unknown';
  return { ...base, verdict, undecided, elapsedMs: performance.now() - meta.startMs };
}

/**
 * Checks a history on the calling thread (the simulator's entry point: synchronous, deterministic
 * verdict for a given history unless the budget runs out).
 */
export function checkHistorySync(ops: readonly HistoryOp[], opts: CheckOptions): CheckResult {
  validateOptions(opts);
  const startMs = performance.now();
  const deadlineMs = startMs + opts.timeoutMs;
  const model = modelByName(opts.model ?? 'kv');
  const maxCached = opts.maxCachedStates ?? DEFAULT_MAX_CACHED_STATES;
  const normalized = normalize(ops);
  const parts = partitionHistory(model, normalized);
  const outcomes = runInterleaved(model, parts, deadlineMs, maxCached);
  return combine(model, outcomes, { parts: parts.length, opsChecked: normalized.length, startMs });
}
