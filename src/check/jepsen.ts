// Parsers for Jepsen histories (the conformance data, see testdata/conformance/linearizability/README.md).
// Both turn invoke/complete event pairs into HistoryOps whose times are event (line) numbers:
// only the order of events matters to the checker.
import { HistoryParseError, type HistoryOp, type OpKind, type Outcome } from './history.ts';

interface Pending {
  readonly line: number;
  readonly call: number;
  readonly f: string;
  readonly value: JepsenValue;
}

type JepsenValue = string | null | readonly JepsenValue[];

/** Parses `nil`, integers, keywords, "strings" and `[a b]` vectors (all the logs use). */
function parseValue(text: string, line: number): JepsenValue {
  const t = text.trim();
  if (t === 'nil') return null;
  if (t.startsWith('[') && t.endsWith(']')) {
    const inner = t.slice(1, -1).trim();
    return inner === '' ? [] : inner.split(/\s+/).map((p) => parseValue(p, line));
  }
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) return JSON.parse(t) as string;
  if (/^-?\d+$/.test(t) || /^:[\w-]+$/.test(t)) return t;
  throw new HistoryParseError(line, `cannot read value '${t}'`);
}

const REGISTER_LINE = /^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(\w+)\s*(.*)$/;

/**
 * Jepsen etcd register logs (`INFO  jepsen.util - 3	:invoke	:read	nil`). Lines not from
 * jepsen.util (or without a process number, e.g. the nemesis) are skipped.
 * :fail cas → ok with swapped=false (an observation); other :fail → 'fail' (no effect);
 * :info → 'unknown'; an invocation never completed → 'unknown'.
 */
export function parseJepsenRegister(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const pending = new Map<number, Pending>();
  const lines = text.split('\n');
  let event = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (!/^INFO\s+jepsen\.util\s+-\s+\d/.test(raw)) continue;
    const m = REGISTER_LINE.exec(raw);
    if (m === null) throw new HistoryParseError(i + 1, 'not a jepsen.util operation line');
    const [, procText, type, f, valueText] = m as unknown as [string, string, string, string, string];
    const proc = Number(procText);
    const value = parseValue(valueText === '' ? 'nil' : valueText, i + 1);
    event++;
    if (f !== 'read' && f !== 'write' && f !== 'cas')
      throw new HistoryParseError(i + 1, `unknown register operation ':${f}'`);
    if (type === 'invoke') {
      if (pending.has(proc)) throw new HistoryParseError(i + 1, `process ${proc} invoked twice without completing`);
      pending.set(proc, { line: i + 1, call: event, f, value });
      continue;
    }
    const p = pending.get(proc);
    if (p === undefined) throw new HistoryParseError(i + 1, `process ${proc} completed an operation it never invoked`);
    if (p.f !== f) throw new HistoryParseError(i + 1, `process ${proc} invoked :${p.f} but completed :${f}`);
    pending.delete(proc);
    ops.push(registerOp(proc, p, type as 'ok' | 'fail' | 'info', event, value, i + 1));
  }
  for (const [proc, p] of pending) ops.push(registerOp(proc, p, 'info', event, null, p.line));
  return ops;
}

function registerOp(
  proc: number,
  p: Pending,
  type: 'ok' | 'fail' | 'info',
  ret: number,
  result: JepsenValue,
  line: number,
): HistoryOp {
  const base = { client: proc, key: 'register', call: p.call };
  const unknown = type === 'info';
  const outcome: Outcome = unknown ? 'unknown' : type === 'fail' && p.f !== 'cas' ? 'fail' : 'ok';
  const timing = { return: unknown ? null : ret, outcome };
  const scalar = (v: JepsenValue): string => {
    if (typeof v !== 'string') throw new HistoryParseError(line, `expected a single value, got ${JSON.stringify(v)}`);
    return v;
  };
  if (p.f === 'read') {
    if (outcome !== 'ok') return { ...base, op: 'get', ...timing };
    return {
      ...base,
      op: 'get',
      ...timing,
      output: result === null ? { found: false } : { found: true, value: scalar(result) },
    };
  }
  if (p.f === 'write') return { ...base, op: 'put', value: scalar(p.value), ...timing };
  const pair = p.value;
  if (!Array.isArray(pair) || pair.length !== 2) throw new HistoryParseError(p.line, 'cas needs [old new]');
  const cas = {
    ...base,
    op: 'cas' as const,
    expected: pair[0] === null ? null : scalar(pair[0] as JepsenValue),
    value: scalar(pair[1] as JepsenValue),
    ...timing,
  };
  return outcome === 'ok' ? { ...cas, output: { swapped: type === 'ok' } } : cas;
}

/** Reads one flat EDN map `{:k v, :k v}` with keyword, string, integer or nil values. */
function parseEdnMap(text: string, line: number): Map<string, JepsenValue> {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) throw new HistoryParseError(line, 'expected an EDN map {...}');
  const body = t.slice(1, -1);
  const out = new Map<string, JepsenValue>();
  const re = /\s*(:[\w-]+)\s+("(?:[^"\\]|\\.)*"|nil|-?\d+|:[\w-]+)\s*(?:,|$)/y;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (m === null) throw new HistoryParseError(line, `cannot read EDN near '${body.slice(pos, pos + 30)}'`);
    out.set((m[1] as string).slice(1), parseValue(m[2] as string, line));
    pos = re.lastIndex;
  }
  return out;
}

/**
 * Jepsen multi-key histories (`{:process 0, :type :invoke, :f :append, :key "4", :value "x"}`),
 * get/put/append. Porcupine's model for them treats a missing key as "", so a get of "" is read
 * as "absent" here; puts of "" would break that equivalence and are rejected.
 */
export function parseJepsenKv(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const pending = new Map<number, Pending & { key: string }>();
  const lines = text.split('\n');
  let event = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    if (raw === '') continue;
    const m = parseEdnMap(raw, i + 1);
    const proc = Number(m.get('process'));
    const type = m.get('type');
    const f = m.get('f');
    const key = m.get('key');
    if (!Number.isSafeInteger(proc) || proc < 0)
      throw new HistoryParseError(i + 1, ':process must be a non-negative integer');
    if (f !== ':get' && f !== ':put' && f !== ':append') throw new HistoryParseError(i + 1, `unknown :f ${String(f)}`);
    if (typeof key !== 'string') throw new HistoryParseError(i + 1, ':key must be a string');
    event++;
    if (type === ':invoke') {
      if (pending.has(proc)) throw new HistoryParseError(i + 1, `process ${proc} invoked twice without completing`);
      pending.set(proc, { line: i + 1, call: event, f: f.slice(1), value: m.get('value') ?? null, key });
      continue;
    }
    if (type !== ':ok' && type !== ':fail' && type !== ':info')
      throw new HistoryParseError(i + 1, `unknown :type ${String(type)}`);
    const p = pending.get(proc);
    if (p === undefined || p.f !== f.slice(1) || p.key !== key)
      throw new HistoryParseError(i + 1, `process ${proc} completed an operation it did not invoke`);
    pending.delete(proc);
    ops.push(kvOp(proc, p, type, event, m.get('value') ?? null, i + 1));
  }
  for (const [proc, p] of pending) ops.push(kvOp(proc, p, ':info', event, null, p.line));
  return ops;
}

function kvOp(
  proc: number,
  p: Pending & { key: string },
  type: ':ok' | ':fail' | ':info',
  ret: number,
  result: JepsenValue,
  line: number,
): HistoryOp {
  const outcome: Outcome = type === ':ok' ? 'ok' : type === ':fail' ? 'fail' : 'unknown';
  const base = {
    client: proc,
    op: p.f as OpKind,
    key: p.key,
    call: p.call,
    return: outcome === 'unknown' ? null : ret,
    outcome,
  };
  if (p.f === 'get') {
    if (outcome !== 'ok') return base;
    if (result !== null && typeof result !== 'string')
      throw new HistoryParseError(line, 'get :value must be a string or nil');
    return { ...base, output: result === null || result === '' ? { found: false } : { found: true, value: result } };
  }
  if (typeof p.value !== 'string') throw new HistoryParseError(p.line, `${p.f} :value must be a string`);
  if (p.f === 'put' && p.value === '')
    throw new HistoryParseError(p.line, 'put of "" is ambiguous with absent in this format');
  return { ...base, value: p.value };
}
