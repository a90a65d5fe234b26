// The chaos run's verdict (docs/chaos.md), from what was recorded alone — no processes — so that a
// test can hand it a falsified record and see it fail:
//   not-linearizable  the clients' history (with the final reads) has no linearization (src/check)
//   lost-write        a set write that was acknowledged is not there at the end, or holds another value
//   phantom-write     a set key holds a value no one tried to write
//   unreadable        a key could not be read at the end (the cluster did not come back)
//   stuck             no client operation succeeded for recoveryLimitMs while at most one fault was in force
//   crash             a node exited without being told to
//   nemesis           a fault could not be applied or undone in its bounded time (a hang)
//   storage           a member under a disk or data-dir fault broke its rule (kept running on a full
//                     disk, served from a damaged data dir, refused without naming the file, ...)
import { checkHistory } from '../../../check/parallel.ts';
import type { CheckResult } from '../../../check/checker.ts';
import type { GetOutput, HistoryOp } from '../../../check/history.ts';
import { formatResult } from '../../../check/report.ts';
import type { FaultEvent } from './nemesis.ts';

export type FindingKind =
  'not-linearizable' | 'lost-write' | 'phantom-write' | 'unreadable' | 'stuck' | 'crash' | 'nemesis' | 'storage';

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
  /** This long without one successful client operation, and no combo in force, is `stuck`. */
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
    else if (e.phase !== 'finding') spans.push([startOf.get(e.n) ?? e.atUs, e.atUs]);
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

function okReturns(r: RunRecord): number[] {
  return r.history
    .filter((o) => o.outcome === 'ok' && o.return !== null)
    .map((o) => o.return as number)
    .sort((a, b) => a - b);
}

/** The longest time from the end of a fault (or of overlapping faults) to the next successful operation. */
export function maxRecoveryMs(r: RunRecord): number {
  const oks = okReturns(r);
  let max = 0;
  for (const [from, to] of quietWindows(r)) {
    const first = oks.find((t) => t >= from);
    if (first !== undefined && first <= to) max = Math.max(max, (first - from) / 1000);
  }
  return Math.round(max);
}

/**
 * `stuck`: a gap longer than limitMs between successful client operations (or from the start, or
 * to the end of the workload) during which no `combo` was in force. One fault at a time stops at
 * most one member (a minority), so the rest must keep serving; two at once may stop a majority.
 */
export function stuckGaps(r: RunRecord, limitMs: number): Finding[] {
  const combos: [number, number][] = [];
  const startOf = new Map<number, number>();
  for (const e of r.events) {
    if (e.kind !== 'combo') continue;
    if (e.phase === 'start') startOf.set(e.n, e.atUs);
    else if (e.phase !== 'finding') combos.push([startOf.get(e.n) ?? e.atUs, e.atUs]);
  }
  const points = [r.startUs, ...okReturns(r).filter((t) => t > r.startUs && t < r.endUs), r.endUs];
  const out: Finding[] = [];
  for (let i = 1; i < points.length; i++) {
    const [from, to] = [points[i - 1] as number, points[i] as number];
    if (to - from <= limitMs * 1000 || combos.some(([a, b]) => a < to && b > from)) continue;
    const at = (t: number): number => Math.round((t - r.startUs) / 1000);
    const faults = r.events
      .filter((e) => e.atUs >= from && e.atUs <= to)
      .map((e) => `${at(e.atUs)} ms ${e.kind} #${e.n} ${e.phase} ${e.target}`);
    out.push({
      kind: 'stuck',
      detail: `no client operation succeeded from ${at(from)} ms to ${at(to)} ms (${Math.round((to - from) / 1000)} ms); faults then: ${faults.join('; ') || 'none'}`,
    });
  }
  return out;
}

export async function judge(r: RunRecord, o: JudgeOptions): Promise<Judgement> {
  const findings: Finding[] = [...r.observed];
  for (const e of r.events)
    if (e.phase === 'error') findings.push({ kind: 'nemesis', detail: `${e.kind} #${e.n}: ${e.detail}` });
    else if (e.phase === 'finding') findings.push({ kind: 'storage', detail: `${e.kind} #${e.n}: ${e.detail}` });
  findings.push(...lostWrites(r));
  findings.push(...stuckGaps(r, o.recoveryLimitMs));
  const check = await checkHistory(r.history, { timeoutMs: o.checkTimeoutMs });
  if (check.verdict === 'not-linearizable') findings.push({ kind: 'not-linearizable', detail: formatResult(check) });
  const setAcked = r.history.filter((x) => x.client === SET_CLIENT && x.op === 'put' && x.outcome === 'ok').length;
  return { findings, check, maxRecoveryMs: maxRecoveryMs(r), setAcked };
}
