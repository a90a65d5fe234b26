// leasekv client histories: what each client asked for, when, and what it saw.
// One operation per JSON line; the format is documented in docs/history-format.md (issue 3).
// This module only describes and validates histories; checking lives in checker.ts.

export type OpKind = 'put' | 'get' | 'delete' | 'cas' | 'append' | 'txn';
export const OP_KINDS: readonly OpKind[] = ['put', 'get', 'delete', 'cas', 'append', 'txn'];

/**
 * ok      — the client saw the result; `output` holds it (get, cas).
 * fail    — the operation definitely did NOT take effect (rejected before applying). The checker
 *           drops it. NOTE: a cas whose comparison failed is `ok` with `{ swapped: false }`.
 * unknown — timeout / lost connection: it may take effect at any time after `call`, or never.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

export interface GetOutput {
  readonly found: boolean;
  /** Present iff found. */
  readonly value?: string;
}

export interface CasOutput {
  readonly swapped: boolean;
}

/**
 * A multi-key transaction (issue 14): if every compare holds (the key's value equals `value`;
 * null = the key is absent), `success` runs, else `failure`; atomically.
 */
export interface TxnSpec {
  readonly compare: readonly { readonly key: string; readonly value: string | null }[];
  readonly success: readonly TxnStep[];
  readonly failure: readonly TxnStep[];
}
export type TxnStep =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string };

/** Which branch ran, and per step of it: a get's output, null for put/delete. */
export interface TxnOutput {
  readonly succeeded: boolean;
  readonly results: readonly (GetOutput | null)[];
}

export interface HistoryOp {
  /** Client (process) id; a client has at most one operation outstanding at a time. */
  readonly client: number;
  readonly op: OpKind;
  readonly key: string;
  /** put: the value written; append: the suffix; cas: the new value. Absent for get/delete. */
  readonly value?: string;
  /** cas only: the value the key must hold for the swap; null = the key must be absent. */
  readonly expected?: string | null;
  /** Invocation time, integer µs (any monotonic integer clock works; only order matters). */
  readonly call: number;
  /** Response time, integer µs, >= call; null only when outcome is 'unknown' (= +infinity). */
  readonly return: number | null;
  readonly outcome: Outcome;
  /** txn only: the transaction. `key` is then not used (write "" or a label). */
  readonly txn?: TxnSpec;
  /** Required for an ok get (GetOutput), an ok cas (CasOutput) and an ok txn (TxnOutput); absent otherwise. */
  readonly output?: GetOutput | CasOutput | TxnOutput;
}

/** A history line that cannot be understood. `line` is 1-based. */
export class HistoryParseError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'HistoryParseError';
  }
}

type Json = Record<string, unknown>;

function isSafeNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Validates one decoded JSON value; returns a reason string on error. */
export function validateOp(raw: unknown): HistoryOp | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object';
  const o = raw as Json;
  const known = new Set(['client', 'op', 'key', 'value', 'expected', 'txn', 'call', 'return', 'outcome', 'output']);
  for (const k of Object.keys(o)) if (!known.has(k)) return `unknown field '${k}'`;
  if (!isSafeNonNegInt(o['client'])) return "'client' must be a non-negative integer";
  const op = o['op'];
  if (typeof op !== 'string' || !(OP_KINDS as readonly string[]).includes(op))
    return `'op' must be one of ${OP_KINDS.join('|')}`;
  const kind = op as OpKind;
  if (typeof o['key'] !== 'string') return "'key' must be a string";
  const needsValue = kind === 'put' || kind === 'append' || kind === 'cas';
  if (needsValue && typeof o['value'] !== 'string') return `'value' (string) is required for ${kind}`;
  if (!needsValue && o['value'] !== undefined) return `'value' is not allowed for ${kind}`;
  if (kind === 'cas' && !(typeof o['expected'] === 'string' || o['expected'] === null))
    return "'expected' (string or null) is required for cas";
  if (kind !== 'cas' && o['expected'] !== undefined) return `'expected' is not allowed for ${kind}`;
  if (kind === 'txn') {
    const e = validateTxn(o['txn']);
    if (e !== undefined) return e;
  } else if (o['txn'] !== undefined) return `'txn' is not allowed for ${kind}`;
  if (!isSafeNonNegInt(o['call'])) return "'call' must be a non-negative integer";
  const outcome = o['outcome'];
  if (outcome !== 'ok' && outcome !== 'fail' && outcome !== 'unknown') return "'outcome' must be ok|fail|unknown";
  const ret = o['return'];
  if (ret === null || ret === undefined) {
    if (outcome !== 'unknown') return "'return' is required unless outcome is 'unknown'";
  } else if (!isSafeNonNegInt(ret) || ret < o['call']) return "'return' must be an integer >= 'call' (or null)";
  const outErr = validateOutput(kind, outcome, o['output']);
  if (outErr !== undefined) return outErr;
  return buildOp(o, kind, outcome);
}

function validateTxn(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null || Array.isArray(t))
    return "'txn' (object with compare, success, failure) is required for txn";
  const o = t as Json;
  for (const k of Object.keys(o))
    if (k !== 'compare' && k !== 'success' && k !== 'failure') return `unknown field 'txn.${k}'`;
  const compare = o['compare'];
  if (!Array.isArray(compare)) return "'txn.compare' must be an array";
  for (const c of compare) {
    const cc = c as Json;
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof cc['key'] !== 'string' ||
      !(typeof cc['value'] === 'string' || cc['value'] === null) ||
      Object.keys(cc).length !== 2
    ) {
      return "each of 'txn.compare' must be { key: string, value: string | null }";
    }
  }
  for (const branch of ['success', 'failure']) {
    const steps = o[branch];
    if (!Array.isArray(steps)) return `'txn.${branch}' must be an array`;
    for (const st of steps) {
      const s = st as Json;
      if (typeof st !== 'object' || st === null || typeof s['key'] !== 'string')
        return `each of 'txn.${branch}' must be an object with a string key`;
      const ok =
        s['op'] === 'put'
          ? typeof s['value'] === 'string' && Object.keys(s).length === 3
          : (s['op'] === 'get' || s['op'] === 'delete') && Object.keys(s).length === 2;
      if (!ok) return `each of 'txn.${branch}' must be { op: "put", key, value } or { op: "get" | "delete", key }`;
    }
  }
  return undefined;
}

function validateTxnOutput(out: unknown): string | undefined {
  const r = out as Json;
  if (typeof r['succeeded'] !== 'boolean' || !Array.isArray(r['results']) || Object.keys(r).length !== 2)
    return "txn 'output' must be { succeeded: boolean, results: [...] }";
  for (const x of r['results'] as unknown[]) {
    if (x === null) continue;
    const e = validateGetOutput(x);
    if (e !== undefined) return `txn 'output.results': ${e}`;
  }
  return undefined;
}

function validateGetOutput(out: unknown): string | undefined {
  const r = out as Json;
  if (typeof out !== 'object' || out === null || typeof r['found'] !== 'boolean')
    return "get 'output' must be { found: boolean, value?: string }";
  if (r['found'] && typeof r['value'] !== 'string') return "get 'output.value' (string) is required when found";
  if (!r['found'] && r['value'] !== undefined) return "get 'output.value' must be absent when not found";
  return undefined;
}

function validateOutput(kind: OpKind, outcome: Outcome, out: unknown): string | undefined {
  const wantsOutput = outcome === 'ok' && (kind === 'get' || kind === 'cas' || kind === 'txn');
  if (!wantsOutput) return out === undefined ? undefined : `'output' is only allowed for an ok get, cas or txn`;
  if (typeof out !== 'object' || out === null) return `'output' is required for an ok ${kind}`;
  const r = out as Json;
  if (kind === 'txn') return validateTxnOutput(out);
  if (kind === 'cas') {
    if (typeof r['swapped'] !== 'boolean' || Object.keys(r).length !== 1)
      return "cas 'output' must be { swapped: boolean }";
    return undefined;
  }
  return validateGetOutput(out);
}

function buildOp(o: Json, kind: OpKind, outcome: Outcome): HistoryOp {
  const ret = o['return'];
  const op: {
    -readonly [K in keyof HistoryOp]: HistoryOp[K];
  } = {
    client: o['client'] as number,
    op: kind,
    key: o['key'] as string,
    call: o['call'] as number,
    return: typeof ret === 'number' ? ret : null,
    outcome,
  };
  if (typeof o['value'] === 'string') op.value = o['value'];
  if (kind === 'cas') op.expected = o['expected'] as string | null;
  // Validated: rebuild as plain values (no stray fields can come through).
  if (kind === 'txn') op.txn = JSON.parse(JSON.stringify(o['txn'])) as TxnSpec;
  if (o['output'] !== undefined) {
    const r = o['output'] as Json;
    if (kind === 'cas') op.output = { swapped: r['swapped'] as boolean };
    else if (kind === 'txn') op.output = JSON.parse(JSON.stringify(r)) as TxnOutput;
    else op.output = r['found'] ? { found: true, value: r['value'] as string } : { found: false };
  }
  return op;
}

/** Parses JSON Lines; blank lines are skipped. Throws HistoryParseError naming the 1-based line. */
export function parseHistoryJsonl(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new HistoryParseError(i + 1, `invalid JSON: ${(e as Error).message}`);
    }
    const r = validateOp(raw);
    if (typeof r === 'string') throw new HistoryParseError(i + 1, r);
    ops.push(r);
  }
  return ops;
}

/** One JSON line (no trailing newline), fields in the documented order. */
export function formatHistoryOp(op: HistoryOp): string {
  return JSON.stringify({
    client: op.client,
    op: op.op,
    key: op.key,
    value: op.value,
    expected: op.expected,
    txn: op.txn,
    call: op.call,
    return: op.return,
    outcome: op.outcome,
    output: op.output,
  });
}

export function formatHistoryJsonl(ops: readonly HistoryOp[]): string {
  return ops.map((o) => formatHistoryOp(o) + '\n').join('');
}
