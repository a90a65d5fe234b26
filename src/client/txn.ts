// Transactions in the client library (issue 14): the friendly TxnRequest → the wire's protobuf JSON.
import type { CompareResult, TxnCompare, TxnOp, TxnRequest, TxnResult } from './types.ts';

const RESULT_JSON: Readonly<Record<CompareResult, string>> = {
  '=': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '<': 'LESS',
  '>': 'GREATER',
};
const TARGET_JSON = { value: 'VALUE', version: 'VERSION', createRevision: 'CREATE', modRevision: 'MOD' } as const;

function compareToWire(c: TxnCompare): Record<string, unknown> {
  const result = RESULT_JSON[c.result];
  if (result === undefined)
    throw new RangeError(`txn compare on '${c.key}': result must be =, !=, < or >, got '${String(c.result)}'`);
  const target = TARGET_JSON[c.target];
  if (target === undefined)
    throw new RangeError(`txn compare on '${c.key}': target must be value, version, createRevision or modRevision`);
  if (c.target === 'value') {
    if (typeof c.value !== 'string')
      throw new RangeError(`txn compare on '${c.key}': a value comparison needs a string value`);
    return { key: c.key, target, result, value: c.value };
  }
  if (!Number.isSafeInteger(c.value) || c.value < 0)
    throw new RangeError(`txn compare on '${c.key}': ${c.target} must be an integer >= 0`);
  return { key: c.key, target, result, [c.target]: String(c.value) };
}

function opToWire(o: TxnOp): Record<string, unknown> {
  switch (o.op) {
    case 'put':
      return { requestPut: { key: o.key, value: o.value } };
    case 'delete':
      return { requestDelete: { key: o.key } };
    case 'get':
      return { requestGet: { key: o.key } };
    case 'range':
      return { requestRange: o.limit === undefined ? { prefix: o.prefix } : { prefix: o.prefix, limit: o.limit } };
    default:
      throw new RangeError(`txn op must be put, delete, get or range, got '${String((o as { op: unknown }).op)}'`);
  }
}

export function txnToWire(t: TxnRequest): Record<string, unknown> {
  return {
    compare: (t.compare ?? []).map(compareToWire),
    success: (t.success ?? []).map(opToWire),
    failure: (t.failure ?? []).map(opToWire),
  };
}

/** A Get inside a transaction answers without its key: fill it in from the operation that asked. */
export function withKeys(res: TxnResult, ops: readonly TxnOp[]): TxnResult {
  const responses = res.responses.map((r, i) => {
    const op = ops[i];
    if (r.op !== 'get' || r.kv === undefined || op?.op !== 'get') return r;
    return { ...r, kv: { ...r.kv, key: op.key } };
  });
  return { ...res, responses };
}
