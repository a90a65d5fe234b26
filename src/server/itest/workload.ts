// Concurrent clients for the linearizability test: each client runs one operation at a time
// (put / linearizable get / cas on a few keys, and multi-key transactions) against the node it believes leads, and records
// every operation in the checker's history format (docs/history-format.md) with monotonic integer
// µs times. One attempt per operation — a retry would be a second operation — so a write that did
// not answer ok is `unknown` unless it was certainly never proposed (then `fail`).
import type { GetOutput, HistoryOp, TxnSpec, TxnStep } from '../../check/history.ts';
import { call, writeDefinitelyFailed, type CallResult, type Endpoint } from '../../testkit/http.ts';

export interface WorkloadOptions {
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly clients: number;
  readonly keys: readonly string[];
  /** Each client stops at whichever comes first. */
  readonly durationMs: number;
  readonly maxOpsPerClient: number;
  readonly callTimeoutMs: number;
  /** Pause between one client's operations. */
  readonly thinkMs: number;
  /** Seeds the operation mix (the timing, of course, is not reproducible). */
  readonly seed: number;
  /** Share of operations that are multi-key transactions (default 0). */
  readonly txnShare?: number;
}

const MAX_CLIENTS = 64;

/** mulberry32: a tiny seeded PRNG, so the same seed picks the same operation mix. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

type Planned =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'cas'; key: string; expected: string | null; value: string }
  | { op: 'txn'; key: string; txn: TxnSpec };

/**
 * A transaction over two or three keys: if the first holds what this client last saw, write the
 * value to two keys and read a third; else read the first two. A torn write or read shows up in
 * the history as a map state no order can explain.
 */
function planTxn(
  keys: readonly string[],
  rand: () => number,
  lastSeen: ReadonlyMap<string, string | null>,
  value: string,
): Planned {
  const pick = (): string => keys[Math.floor(rand() * keys.length)] as string;
  const a = pick();
  const others = keys.filter((k) => k !== a);
  const b = others[Math.floor(rand() * others.length)] ?? a;
  const c = pick();
  const success: TxnStep[] =
    b === a
      ? [
          { op: 'put', key: a, value },
          { op: 'get', key: c },
        ]
      : [
          { op: 'put', key: a, value },
          { op: 'put', key: b, value },
          { op: 'get', key: c },
        ];
  return {
    op: 'txn',
    key: '',
    txn: {
      compare: [{ key: a, value: lastSeen.get(a) ?? null }],
      success,
      failure: [
        { op: 'get', key: a },
        { op: 'get', key: b },
      ],
    },
  };
}

function txnBody(t: TxnSpec): object {
  const step = (s: TxnStep): object =>
    s.op === 'put'
      ? { requestPut: { key: s.key, value: s.value } }
      : s.op === 'delete'
        ? { requestDelete: { key: s.key } }
        : { requestGet: { key: s.key } };
  // value null (absent): VERSION EQUAL 0, the wire's default compare.
  const compare = t.compare.map((c) =>
    c.value === null ? { key: c.key } : { key: c.key, target: 'VALUE', value: c.value },
  );
  return { compare, success: t.success.map(step), failure: t.failure.map(step) };
}

function txnOutput(t: TxnSpec, body: Record<string, unknown>): { succeeded: boolean; results: (GetOutput | null)[] } {
  const succeeded = body['succeeded'] === true;
  const responses = (body['responses'] ?? []) as Record<string, Record<string, unknown>>[];
  const steps = succeeded ? t.success : t.failure;
  const results = steps.map((s, i) => {
    if (s.op !== 'get') return null;
    const g = responses[i]?.['responseGet'] ?? {};
    return g['found'] === true ? { found: true, value: String(g['value'] ?? '') } : { found: false };
  });
  return { succeeded, results };
}

function record(client: number, p: Planned, callUs: number, r: CallResult): HistoryOp {
  if (p.op === 'txn') {
    const base = { client, op: 'txn' as const, key: '', txn: p.txn, call: callUs };
    if (r.kind === 'ok')
      return { ...base, return: Math.max(callUs, nowUs()), outcome: 'ok', output: txnOutput(p.txn, r.body) };
    if (writeDefinitelyFailed(r)) return { ...base, return: Math.max(callUs, nowUs()), outcome: 'fail' };
    return { ...base, return: null, outcome: 'unknown' };
  }
  const base = {
    client,
    key: p.key,
    call: callUs,
    ...(p.op === 'get' ? {} : { value: p.value }),
    ...(p.op === 'cas' ? { expected: p.expected } : {}),
  };
  if (r.kind === 'ok') {
    const ret = Math.max(callUs, nowUs());
    if (p.op === 'get') {
      // proto3 JSON leaves out false and empty values: absent `found` means not found.
      const found = r.body['found'] === true;
      return {
        ...base,
        op: 'get',
        return: ret,
        outcome: 'ok',
        output: found ? { found, value: String(r.body['value'] ?? '') } : { found },
      };
    }
    if (p.op === 'cas')
      return { ...base, op: 'cas', return: ret, outcome: 'ok', output: { swapped: r.body['swapped'] === true } };
    return { ...base, op: 'put', return: ret, outcome: 'ok' };
  }
  if (p.op === 'get' || writeDefinitelyFailed(r))
    return { ...base, op: p.op, return: Math.max(callUs, nowUs()), outcome: 'fail' };
  return { ...base, op: p.op, return: null, outcome: 'unknown' };
}

async function runClient(o: WorkloadOptions, client: number, endAtMs: number, out: HistoryOp[]): Promise<void> {
  const rand = prng(o.seed * 1000 + client);
  const ids = [...o.endpoints.keys()];
  let target = ids[client % ids.length] as string;
  const lastSeen = new Map<string, string | null>();
  for (let n = 0; n < o.maxOpsPerClient && performance.now() < endAtMs; n++) {
    const key = o.keys[Math.floor(rand() * o.keys.length)] as string;
    const dice = rand();
    const value = `c${client}.${n}`;
    const share = o.txnShare ?? 0;
    const plan: Planned =
      dice < share
        ? planTxn(o.keys, rand, lastSeen, value)
        : dice < share + 0.4 * (1 - share)
          ? { op: 'get', key }
          : dice < share + 0.7 * (1 - share)
            ? { op: 'put', key, value }
            : { op: 'cas', key, expected: lastSeen.get(key) ?? null, value };
    const body =
      plan.op === 'txn'
        ? txnBody(plan.txn)
        : plan.op === 'get'
          ? { key }
          : plan.op === 'put'
            ? { key, value }
            : { key, value, ...(plan.expected === null ? {} : { expected: plan.expected }) };
    const method = plan.op === 'txn' ? 'Txn' : plan.op === 'get' ? 'Get' : plan.op === 'put' ? 'Put' : 'CompareAndSwap';
    const callUs = nowUs();
    const r = await call(o.endpoints.get(target) as Endpoint, method, body, o.callTimeoutMs);
    const op = record(client, plan, callUs, r);
    out.push(op);
    if (op.outcome === 'ok' && plan.op === 'txn') {
      const out = op.output as { succeeded: boolean; results: (GetOutput | null)[] };
      const steps = out.succeeded ? plan.txn.success : plan.txn.failure;
      steps.forEach((s, i) => {
        const seen = out.results[i];
        if (s.op === 'put') lastSeen.set(s.key, s.value);
        else if (s.op === 'get' && seen !== null && seen !== undefined)
          lastSeen.set(s.key, seen.found ? (seen.value ?? '') : null);
      });
    } else if (op.outcome === 'ok') {
      if (plan.op === 'get')
        lastSeen.set(
          key,
          op.output !== undefined && 'found' in op.output && op.output.found ? (op.output.value ?? '') : null,
        );
      else if (plan.op === 'put' || (op.output !== undefined && 'swapped' in op.output && op.output.swapped))
        lastSeen.set(key, value);
    }
    // Follow the leader: a hint if there is one, otherwise the next node.
    if (r.kind === 'error' && r.code === 'failed_precondition' && o.endpoints.has(r.leader)) target = r.leader;
    else if (r.kind !== 'ok') target = ids[(ids.indexOf(target) + 1) % ids.length] as string;
    await new Promise((res) => setTimeout(res, o.thinkMs));
  }
}

/** Runs the clients to completion; the history is in no particular order (the checker sorts). */
export async function runWorkload(o: WorkloadOptions): Promise<HistoryOp[]> {
  if (!(Number.isInteger(o.clients) && o.clients >= 1 && o.clients <= MAX_CLIENTS))
    throw new RangeError(`clients must be 1..${MAX_CLIENTS}`);
  if (o.keys.length === 0) throw new RangeError('at least one key');
  const out: HistoryOp[] = [];
  const endAtMs = performance.now() + o.durationMs;
  await Promise.all(Array.from({ length: o.clients }, (_, i) => runClient(o, i, endAtMs, out)));
  return out;
}
