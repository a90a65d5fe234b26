// Human-readable text for check results: the verdict, and for a violation the key, the longest
// linearizable prefix found, the state it leaves, and the operations that could not be placed.
import type { CasOutput, GetOutput, HistoryOp, TxnOutput, TxnStep } from './history.ts';
import type { CheckResult, PartReport } from './checker.ts';
import { showValue } from './models.ts';

/** Prefix lines shown in text (the HTML page shows all). */
export const DEFAULT_PREFIX_LINES = 25;
const MAX_VALUE_CHARS = 60;

function short(v: string | null): string {
  const s = showValue(v);
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 4)}…" (${(v ?? '').length} chars)` : s;
}

/** e.g. `put "v1"`, `get → "v1"`, `cas absent→"v2" → swapped`, `append "x" (unknown outcome)`. */
export function describeOp(op: HistoryOp): string {
  let s: string;
  switch (op.op) {
    case 'put':
    case 'append':
      s = `${op.op} ${short(op.value ?? '')}`;
      break;
    case 'delete':
      s = 'delete';
      break;
    case 'get': {
      const out = op.output as GetOutput | undefined;
      s = out === undefined ? 'get' : `get → ${out.found ? short(out.value ?? '') : 'absent'}`;
      break;
    }
    case 'cas': {
      const out = op.output as CasOutput | undefined;
      s = `cas ${short(op.expected ?? null)}→${short(op.value ?? '')}`;
      if (out !== undefined) s += out.swapped ? ' → swapped' : ' → not swapped';
      break;
    }
    case 'txn':
      s = describeTxn(op);
      break;
  }
  if (op.outcome === 'unknown') s += ' (unknown outcome)';
  return s;
}

/** e.g. `txn if a="1" then put b "2", get a else get b → succeeded [-, "1"]`. */
function describeTxn(op: HistoryOp): string {
  const t = op.txn;
  if (t === undefined) return 'txn';
  const step = (s: TxnStep): string => (s.op === 'put' ? `put ${s.key} ${short(s.value)}` : `${s.op} ${s.key}`);
  const cond = t.compare.map((c) => `${c.key}=${short(c.value)}`).join(' and ') || 'true';
  let s = `txn if ${cond} then ${t.success.map(step).join(', ') || 'nothing'} else ${t.failure.map(step).join(', ') || 'nothing'}`;
  const out = op.output as TxnOutput | undefined;
  if (out !== undefined) {
    const seen = out.results.map((r) => (r === null ? '-' : r.found ? short(r.value ?? '') : 'absent'));
    s += ` → ${out.succeeded ? 'succeeded' : 'failed'} [${seen.join(', ')}]`;
  }
  return s;
}

export function describeTiming(op: HistoryOp): string {
  const ret = op.outcome === 'unknown' || op.return === null ? '∞' : String(op.return);
  return `[${op.call}, ${ret}]`;
}

function opLine(op: HistoryOp): string {
  return `client ${op.client}: ${describeOp(op)} ${describeTiming(op)}`;
}

export function formatPart(p: PartReport, maxPrefixLines = DEFAULT_PREFIX_LINES): string[] {
  const lines: string[] = [];
  const what = p.verdict === 'not-linearizable' ? 'cannot be linearized' : `undecided (${p.reason ?? 'budget'})`;
  lines.push(`key ${JSON.stringify(p.key)}: ${what} — ${p.ops.length} operations`);
  lines.push(`  longest linearizable prefix found: ${p.longestPrefix.length} of ${p.ops.length} operations`);
  const skip = Math.max(0, p.longestPrefix.length - maxPrefixLines);
  if (skip > 0) lines.push(`    … ${skip} earlier operations (see --html for all)`);
  p.longestPrefix.slice(skip).forEach((i, k) => {
    lines.push(`    ${String(skip + k + 1).padStart(5)}. ${opLine(p.ops[i] as HistoryOp)}`);
  });
  lines.push(`  value after the prefix: ${short(p.stateAfterPrefix)}`);
  if (p.unplaced.length > 0) {
    lines.push('  operations that could not be placed next:');
    for (const u of p.unplaced) lines.push(`    - ${opLine(p.ops[u.index] as HistoryOp)}: ${u.why}`);
  }
  return lines;
}

export function formatResult(r: CheckResult, maxPrefixLines = DEFAULT_PREFIX_LINES): string {
  const summary = `${r.verdict} (model ${r.model}, ${r.opsChecked} operations in ${r.parts} part(s), ${(r.elapsedMs / 1000).toFixed(2)} s)`;
  const lines = [summary];
  if (r.violation !== undefined) lines.push(...formatPart(r.violation, maxPrefixLines));
  for (const u of r.undecided) lines.push(...formatPart(u, maxPrefixLines));
  return lines.join('\n');
}
