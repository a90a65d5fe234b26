// Txn over the wire (issue 14): validation of a TxnRequest into the backend's form, and the answer
// back. Shared rules with the single-key methods (validate.ts): the same key and value limits.
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  Compare_CompareResult as CR,
  Compare_CompareTarget as CT,
  type Compare as ApiCompare,
  type RequestOp,
  type TxnRequest as ApiTxnRequest,
  type TxnResponseSchema,
} from '../../gen/leasekv/v1/kv_pb.ts';
import type { Compare, CompareResult, KeyValue, TxnOp, TxnOpResult, TxnRequest, TxnResult } from '../backend.ts';
import { unreachable } from '../../util/assert.ts';
import { invalidArgument } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { checkKey, checkSession, checkValue } from './validate.ts';

/** Most comparisons, and most operations per branch, in one transaction (etcd's default is 128 too). */
export const MAX_TXN_OPS = 128;

const RESULTS: Readonly<Record<number, CompareResult>> = {
  [CR.EQUAL]: '=',
  [CR.GREATER]: '>',
  [CR.LESS]: '<',
  [CR.NOT_EQUAL]: '!=',
};

function safe(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${what} ${n} is too large`);
  return Number(n);
}

function toCompare(c: ApiCompare, i: number, limits: ApiLimits): Compare {
  const what = `compare[${i}]`;
  checkKey(c.key, limits, `${what}.key`);
  const result = RESULTS[c.result];
  if (result === undefined)
    throw invalidArgument(`${what}.result ${c.result} is not EQUAL, GREATER, LESS or NOT_EQUAL`);
  const u = c.targetUnion;
  switch (c.target) {
    case CT.VALUE:
      if (u.case !== 'value') throw invalidArgument(`${what}: target VALUE needs "value"`);
      checkValue(u.value, limits, `${what}.value`);
      return { key: c.key, target: 'value', result, value: u.value };
    case CT.VERSION:
    case CT.CREATE:
    case CT.MOD: {
      const [target, field] =
        c.target === CT.VERSION
          ? (['version', 'version'] as const)
          : c.target === CT.CREATE
            ? (['create', 'createRevision'] as const)
            : (['mod', 'modRevision'] as const);
      if (u.case !== undefined && u.case !== field)
        throw invalidArgument(`${what}: target ${CT[c.target]} compares "${field}", not "${u.case}"`);
      return {
        key: c.key,
        target,
        result,
        number: u.case === undefined ? 0 : safe(u.value as bigint, `${what}.${field}`),
      };
    }
    default:
      throw invalidArgument(`${what}.target ${c.target} is not VERSION, CREATE, MOD or VALUE`);
  }
}

function toOp(o: RequestOp, what: string, limits: ApiLimits): TxnOp {
  const r = o.request;
  const noSession = (clientId: string, seq: bigint): void => {
    if (clientId !== '' || seq !== 0n)
      throw invalidArgument(
        `${what}: an operation inside a transaction carries no client_id/seq (the transaction does)`,
      );
  };
  switch (r.case) {
    case 'requestPut':
      noSession(r.value.clientId, r.value.seq);
      checkKey(r.value.key, limits, `${what}.key`);
      checkValue(r.value.value, limits, `${what}.value`);
      return { op: 'put', key: r.value.key, value: r.value.value };
    case 'requestDelete':
      noSession(r.value.clientId, r.value.seq);
      checkKey(r.value.key, limits, `${what}.key`);
      return { op: 'delete', key: r.value.key };
    case 'requestGet':
      if (r.value.consistency !== 0)
        throw invalidArgument(`${what}: reads inside a transaction are linearizable; leave out consistency`);
      checkKey(r.value.key, limits, `${what}.key`);
      return { op: 'get', key: r.value.key };
    case 'requestRange': {
      if (r.value.consistency !== 0)
        throw invalidArgument(`${what}: reads inside a transaction are linearizable; leave out consistency`);
      // A transaction's ranges are applied from the log on every member, in a format without these.
      if (r.value.startKey !== '' || r.value.keysOnly || r.value.countOnly)
        throw invalidArgument(`${what}: start_key, keys_only and count_only are for Range, not inside a transaction`);
      if (r.value.limit > limits.maxRangeLimit)
        throw invalidArgument(`${what}.limit ${r.value.limit} is above the maximum of ${limits.maxRangeLimit}`);
      if (Buffer.byteLength(r.value.prefix, 'utf8') > limits.maxKeyBytes)
        throw invalidArgument(`${what}.prefix is longer than the key limit of ${limits.maxKeyBytes} bytes`);
      return {
        op: 'range',
        prefix: r.value.prefix,
        limit: r.value.limit === 0 ? limits.defaultRangeLimit : r.value.limit,
      };
    }
    default:
      throw invalidArgument(`${what} holds no operation (requestPut, requestDelete, requestGet or requestRange)`);
  }
}

function toBranch(ops: readonly RequestOp[], name: string, limits: ApiLimits): TxnOp[] {
  if (ops.length > MAX_TXN_OPS)
    throw invalidArgument(`${name} has ${ops.length} operations; the limit is ${MAX_TXN_OPS}`);
  const out = ops.map((o, i) => toOp(o, `${name}[${i}]`, limits));
  // As etcd: one key written twice in a branch is ambiguous (which version wins?) and refused.
  const written = new Set<string>();
  let rows = 0;
  for (const o of out) {
    if (o.op === 'range') rows += o.limit;
    if (o.op !== 'put' && o.op !== 'delete') continue;
    if (written.has(o.key)) throw invalidArgument(`${name} writes key ${JSON.stringify(o.key)} more than once`);
    written.add(o.key);
  }
  // The answer is kept by the session table until the client's next write: bound it like one Range.
  if (rows > limits.maxRangeLimit)
    throw invalidArgument(`${name}'s ranges ask for ${rows} keys in all; the limit is ${limits.maxRangeLimit}`);
  return out;
}

export function toTxn(r: ApiTxnRequest, seq: number, limits: ApiLimits): TxnRequest {
  if (r.compare.length > MAX_TXN_OPS)
    throw invalidArgument(`${r.compare.length} comparisons; the limit is ${MAX_TXN_OPS}`);
  const compares = r.compare.map((c, i) => toCompare(c, i, limits));
  const success = toBranch(r.success, 'success', limits);
  const failure = toBranch(r.failure, 'failure', limits);
  const session = checkSession(r.clientId, seq);
  const base = { compares, success, failure, maxBytes: limits.maxResponseBytes };
  return session === undefined ? base : { ...base, session };
}

type KvInit = { key: string; value: string; createRevision: bigint; modRevision: bigint; version: bigint };
export function kvToApi(kv: KeyValue): KvInit {
  return {
    key: kv.key,
    value: kv.value,
    createRevision: BigInt(kv.create),
    modRevision: BigInt(kv.mod),
    version: BigInt(kv.version),
  };
}

export function txnToApi(t: TxnResult): MessageInitShape<typeof TxnResponseSchema> {
  const index = BigInt(t.index);
  const revision = BigInt(t.revision);
  const responses = t.results.map((o: TxnOpResult) => {
    switch (o.op) {
      case 'put':
        return { response: { case: 'responsePut' as const, value: { index, revision } } };
      case 'delete':
        return { response: { case: 'responseDelete' as const, value: { deleted: o.deleted, index, revision } } };
      case 'get': {
        const kv = o.kv;
        const meta =
          kv === undefined
            ? {}
            : { createRevision: BigInt(kv.create), modRevision: BigInt(kv.mod), version: BigInt(kv.version) };
        return {
          response: {
            case: 'responseGet' as const,
            value: { found: kv !== undefined, value: kv?.value ?? '', index, revision, ...meta },
          },
        };
      }
      case 'range':
        return {
          response: {
            case: 'responseRange' as const,
            value: { kvs: o.kvs.map(kvToApi), more: o.more, index, revision },
          },
        };
      default:
        return unreachable(o, 'transaction result');
    }
  });
  return { succeeded: t.succeeded, responses, index, revision };
}
