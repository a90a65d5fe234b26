// The chaos run's verdict (docs/chaos.md), from what was recorded alone — no processes — so that a
// test can hand it a falsified record and see it fail:
//   not-linearizable  the clients' history (with the final reads) has no linearization (src/check)
//   lost-write        a set write that was acknowledged is not there at the end, or holds another value
//   phantom-write     a set key holds a value no one tried to write
//   unreadable        a key could not be read at the end (the cluster did not come back)
//   stuck             no operation succeeded for recoveryLimitMs after a fault was undone
//   crash             a node exited without being told to
//   nemesis           a fault could not be applied or undone in its bounded time (a hang)
import { checkHistory } from '../../../check/parallel.ts';
import type { CheckResult } from '../../../check/checker.ts';
import type { GetOutput, HistoryOp } from '../../../check/history.ts';
import { formatResult } from '../../../check/report.ts';
import type { FaultEvent } from './nemesis.ts';

export type FindingKind =
  'not-linearizable' | 'lost-write' | 'phantom-write' | 'unreadable' | 'stuck' | 'crash' | 'nemesis';

export interface Finding {
  readonly kind: FindingKind;
  readonly detail: string;
}

/** The client ids of the set writer (each of its keys written at most once) and of the final reads. */
export const SET_CLIENT = 1_000_000;
export const FINAL_CLIENT = 1_000_001;
/** Reads at a member coming back from a pause or partition: PROBE_CLIENT + n, one client each. */
export const PROBE_CLIENT = 2_000_000;

/** What a run recorded. Times are µs of performance.now(), like the history's. */
export interface RunRecord {
  /** The clients' operations, the set writer's (SET_CLIENT) and the final reads (FINAL_CLIENT). */
  readonly history: readonly HistoryOp[];
  readonly events: readonly FaultEvent[];
  /** When the workload started and stopped (the stuck check looks between these). */
  readonly startUs: number;
  readonly endUs: number;
  /** Whether every key was read back at the end (not when the cluster did not come back). */
  readonly finalReads: boolean;
  /** Crashes and stuck periods seen while running (no leader after healing, say). */
  readonly observed: readonly Finding[];
}

export interface JudgeOptions {
  readonly checkTimeoutMs: number;
  /** A quiet period (no fault) this long without one successful operation is `stuck`. */
  readonly recoveryLimitMs: number;
}

export interface Judgement {
  readonly findings: readonly Finding[];
  readonly check: CheckResult;
  /** The longest time from a fault's undo to the next successful operation, ms. */
  readonly maxRecoveryMs: number;
  readonly setAcked: number;
}

/** The acknowledged set writes missing (or changed) at the end, and values nobody wrote. */
export function lostWrites(r: RunRecord): Finding[] {
  const out: Finding[] = [];
  const written = new Map<string, HistoryOp>();
  const seenAtEnd = new Map<string, GetOutput>();
  for (const o of r.history) {
    if (o.client === SET_CLIENT && o.op === 'put') written.set(o.key, o);
    if (o.client === FINAL_CLIENT && o.op === 'get' && o.output !== undefined)
      seenAtEnd.set(o.key, o.output as GetOutput);
  }
  for (const [key, w] of written) {
    const seen = seenAtEnd.get(key);
    if (seen === undefined) {
      if (w.outcome === 'ok' && r.finalReads)
        out.push({ kind: 'unreadable', detail: `${key}: acknowledged, not readable at the end` });
      continue;
    }
    if (w.outcome === 'ok' && !(seen.found && seen.value === w.value))
      out.push({
        kind: 'lost-write',
        detail: `${key}=${w.value} was acknowledged; at the end: ${JSON.stringify(seen)}`,
      });
    if (seen.found && w.value !== seen.value)
      out.push({ kind: 'phantom-write', detail: `${key} holds ${JSON.stringify(seen.value)}, never written` });
  }
  return out;
}

/**
 * Quiet windows: the gaps between the (merged) periods when some fault was in force, up to the end
 * of the workload. Faults overlap inside a combo; a fault that failed counts until its error.
 */
export function quietWindows(r: RunRecord): [number, number][] {
  const startOf = new Map<number, number>();
  const spans: [number, number][] = [];
  for (const e of r.events) {
    if (e.phase === 'start') startOf.set(e.n, Math.min(e.atUs, startOf.get(e.n) ?? e.atUs));
    else spans.push([startOf.get(e.n) ?? e.atUs, e.atUs]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  let busyUntil = -Infinity;
  for (const [from, to] of spans) {
    if (from > busyUntil && busyUntil > -Infinity) out.push([busyUntil, from]);
    busyUntil = Math.max(busyUntil, to);
  }
  if (busyUntil > -Infinity && busyUntil < r.endUs) out.push([busyUntil, r.endUs]);
  return out;
}

/** Per quiet window, the time to the first successful operation; `stuck` when there was none for too long. */
export function recovery(r: RunRecord, limitMs: number): { maxRecoveryMs: number; findings: Finding[] } {
  const okReturns = r.history
    .filter((o) => o.outcome === 'ok' && o.return !== null)
    .map((o) => o.return as number)
    .sort((a, b) => a - b);
  let maxRecoveryMs = 0;
  const findings: Finding[] = [];
  for (const [from, to] of quietWindows(r)) {
    if (to <= from) continue;
    const first = okReturns.find((t) => t >= from);
    const waitedMs = ((first ?? to) - from) / 1000;
    if (first !== undefined && first <= to) maxRecoveryMs = Math.max(maxRecoveryMs, waitedMs);
    if ((first === undefined || first > from + limitMs * 1000) && to - from > limitMs * 1000)
      findings.push({
        kind: 'stuck',
        detail: `no operation succeeded for ${Math.round(waitedMs)} ms after the fault undone at ${Math.round((from - r.startUs) / 1000)} ms`,
      });
  }
  return { maxRecoveryMs: Math.round(maxRecoveryMs), findings };
}

export async function judge(r: RunRecord, o: JudgeOptions): Promise<Judgement> {
  const findings: Finding[] = [...r.observed];
  for (const e of r.events)
    if (e.phase === 'error') findings.push({ kind: 'nemesis', detail: `${e.kind} #${e.n}: ${e.detail}` });
  findings.push(...lostWrites(r));
  const rec = recovery(r, o.recoveryLimitMs);
  findings.push(...rec.findings);
  const check = await checkHistory(r.history, { timeoutMs: o.checkTimeoutMs });
  if (check.verdict === 'not-linearizable') findings.push({ kind: 'not-linearizable', detail: formatResult(check) });
  const setAcked = r.history.filter((x) => x.client === SET_CLIENT && x.op === 'put' && x.outcome === 'ok').length;
  return { findings, check, maxRecoveryMs: rec.maxRecoveryMs, setAcked };
}
