// The multi-key model for histories with transactions (issue 14). A transaction touches several
// keys at once, so those keys cannot be checked apart: keys are joined into groups (any two keys
// one transaction touches are in one group; union-find), each group is one part, and the state of
// a part is the map of its keys' values. P-compositionality still holds across groups: no
// operation spans two of them.
//
// State encoding: a Value (string) holding the JSON of the sorted [key, value] pairs of the keys
// present; equal maps give equal strings, so the search's interning and memo work unchanged.
import type { GetOutput, HistoryOp, TxnOutput, TxnStep } from './history.ts';
import type { Model, Value } from './model-types.ts';

type Entries = Map<string, string>;

function decode(state: Value): Entries {
  return new Map(JSON.parse(state ?? '[]') as [string, string][]);
}

function encode(m: Entries): string {
  return JSON.stringify([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Keys an operation touches. */
export function keysOf(op: HistoryOp): string[] {
  if (op.op !== 'txn' || op.txn === undefined) return [op.key];
  const t = op.txn;
  return [...t.compare.map((c) => c.key), ...t.success.map((s) => s.key), ...t.failure.map((s) => s.key)];
}

/** Groups of keys joined by transactions; each group's operations form one part, named by its keys. */
export function partitionByGroups(ops: readonly HistoryOp[]): Map<string, HistoryOp[]> {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r) ?? r;
    let x = k;
    while (x !== r) {
      const next = parent.get(x) as string;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  const union = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  for (const op of ops) {
    const keys = keysOf(op);
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (const k of keys.slice(1)) union(keys[0] as string, k);
  }
  const members = new Map<string, string[]>();
  for (const k of parent.keys()) {
    const r = find(k);
    const list = members.get(r);
    if (list === undefined) members.set(r, [k]);
    else list.push(k);
  }
  const name = new Map<string, string>();
  for (const [r, ks] of members) name.set(r, ks.sort().join(' + '));
  const parts = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    const first = keysOf(op)[0];
    // A transaction with no keys at all changes and observes nothing: it needs no checking.
    if (first === undefined) continue;
    const n = name.get(find(first)) as string;
    const part = parts.get(n);
    if (part === undefined) parts.set(n, [op]);
    else part.push(op);
  }
  return parts;
}

function same(seen: GetOutput | null | undefined, actual: string | undefined): boolean {
  if (seen === null || seen === undefined) return false;
  return seen.found ? actual !== undefined && seen.value === actual : actual === undefined;
}

/** Applies a transaction to `m` (mutating); returns why the observed output is impossible, or undefined. */
function runTxn(m: Entries, op: HistoryOp): string | undefined {
  const t = op.txn;
  if (t === undefined) return 'txn without its description';
  const succeeded = t.compare.every((c) => (c.value === null ? !m.has(c.key) : m.get(c.key) === c.value));
  const out = op.outcome === 'ok' ? (op.output as TxnOutput | undefined) : undefined;
  if (op.outcome === 'ok' && out === undefined) return 'ok txn without output';
  if (out !== undefined && out.succeeded !== succeeded)
    return `txn reported succeeded=${String(out.succeeded)} but its comparisons ${succeeded ? 'held' : 'did not hold'}`;
  const steps: readonly TxnStep[] = succeeded ? t.success : t.failure;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as TxnStep;
    if (s.op === 'put') m.set(s.key, s.value);
    else if (s.op === 'delete') m.delete(s.key);
    else if (out !== undefined && !same(out.results[i], m.get(s.key))) {
      const v = m.get(s.key);
      return `txn read ${JSON.stringify(out.results[i] ?? null)} at ${JSON.stringify(s.key)} but the value was ${v === undefined ? 'absent' : JSON.stringify(v)}`;
    }
  }
  return undefined;
}

/** The single-key model, lifted to a map: `single` steps one key's value. */
export function groupModel(single: Model): Model {
  const step = (state: Value, op: HistoryOp): { next?: Value; why?: string } => {
    const m = decode(state);
    if (op.op === 'txn') {
      const why = runTxn(m, op);
      return why === undefined ? { next: encode(m) } : { why };
    }
    const next = single.step(m.get(op.key) ?? null, op);
    if (next === undefined) return { why: `${op.key}: ${single.explain(m.get(op.key) ?? null, op) ?? 'impossible'}` };
    if (next === null) m.delete(op.key);
    else m.set(op.key, next);
    return { next: encode(m) };
  };
  return {
    name: single.name,
    init: '[]',
    step: (state, op) => step(state, op).next,
    partition: partitionByGroups,
    explain: (state, op) => step(state, op).why,
  };
}
