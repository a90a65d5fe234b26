// Runtime validation of everything that arrives over the wire, shared by the Connect handlers and
// the JSON fast path so that both reject the same requests with the same messages.
import type {
  CasRequest,
  Consistency,
  DeleteRequest,
  GetRequest,
  PutRequest,
  RangeRequest,
  SessionRef,
} from '../backend.ts';
import { invalidArgument } from './errors.ts';
import type { ApiLimits } from './limits.ts';

/** Longest client id accepted for a session. */
export const MAX_CLIENT_ID_BYTES = 256;

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// String.prototype.isWellFormed (Node 20; absent from the ES2022 lib this project compiles with).
export const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * JSON can carry a lone UTF-16 surrogate ("\ud800"), which has no UTF-8 form: stored, it would
 * become U+FFFD, so a Put of a key followed by a Get of the same key would find nothing. Connect's
 * JSON decoding refuses such strings ("invalid UTF8"); the fast path (Get, Put) relies on this.
 */
function checkUnicode(s: string, what: string): void {
  if (!isWellFormed(s))
    throw invalidArgument(`${what} is not valid Unicode (it holds a lone UTF-16 surrogate, \ud800-\udfff)`);
}

// A UTF-16 code unit is at most 3 UTF-8 bytes, so `length * 3 <= limit` skips the byte count.
export function checkKey(key: string, limits: ApiLimits, what = 'key'): void {
  if (key === '') throw invalidArgument(`${what} must not be empty`);
  checkUnicode(key, what);
  if (key.length * 3 > limits.maxKeyBytes) {
    const n = utf8Bytes(key);
    if (n > limits.maxKeyBytes)
      throw invalidArgument(`${what} is ${n} bytes; the limit is ${limits.maxKeyBytes} bytes`);
  }
}

export function checkValue(value: string, limits: ApiLimits, what = 'value'): void {
  checkUnicode(value, what);
  if (value.length * 3 > limits.maxValueBytes) {
    const n = utf8Bytes(value);
    if (n > limits.maxValueBytes)
      throw invalidArgument(`${what} is ${n} bytes; the limit is ${limits.maxValueBytes} bytes`);
  }
}

/** Empty clientId and seq 0: no session. Otherwise both must be set. */
export function checkSession(clientId: string, seq: number): SessionRef | undefined {
  if (clientId === '' && seq === 0) return undefined;
  if (clientId === '') throw invalidArgument('seq given without client_id');
  if (seq === 0) throw invalidArgument('client_id given without seq (seq starts at 1)');
  if (!Number.isSafeInteger(seq) || seq < 0) throw invalidArgument(`seq must be a positive integer, got ${seq}`);
  if (utf8Bytes(clientId) > MAX_CLIENT_ID_BYTES)
    throw invalidArgument(`client_id is longer than ${MAX_CLIENT_ID_BYTES} bytes`);
  checkUnicode(clientId, 'client_id');
  return { clientId, seq };
}

export function toPut(
  r: { key: string; value: string; clientId: string; seq: number; ttlId?: number },
  limits: ApiLimits,
): PutRequest {
  checkKey(r.key, limits);
  checkValue(r.value, limits);
  const session = checkSession(r.clientId, r.seq);
  const ttl = r.ttlId === undefined || r.ttlId === 0 ? {} : { ttl: r.ttlId };
  return session === undefined
    ? { key: r.key, value: r.value, ...ttl }
    : { key: r.key, value: r.value, ...ttl, session };
}

export function toGet(r: { key: string; consistency: Consistency }, limits: ApiLimits): GetRequest {
  checkKey(r.key, limits);
  return { key: r.key, consistency: r.consistency };
}

export function toDelete(r: { key: string; clientId: string; seq: number }, limits: ApiLimits): DeleteRequest {
  checkKey(r.key, limits);
  const session = checkSession(r.clientId, r.seq);
  return session === undefined ? { key: r.key } : { key: r.key, session };
}

export function toCas(
  r: { key: string; expected?: string | undefined; value: string; clientId: string; seq: number },
  limits: ApiLimits,
): CasRequest {
  checkKey(r.key, limits);
  if (r.expected !== undefined) checkValue(r.expected, limits, 'expected');
  checkValue(r.value, limits);
  const session = checkSession(r.clientId, r.seq);
  const base = { key: r.key, expected: r.expected ?? null, value: r.value };
  return session === undefined ? base : { ...base, session };
}

export function toRange(
  r: {
    prefix: string;
    limit: number;
    consistency: Consistency;
    startKey?: string;
    keysOnly?: boolean;
    countOnly?: boolean;
  },
  limits: ApiLimits,
): RangeRequest {
  if (r.prefix.length * 3 > limits.maxKeyBytes && utf8Bytes(r.prefix) > limits.maxKeyBytes) {
    throw invalidArgument(`prefix is longer than the key limit of ${limits.maxKeyBytes} bytes`);
  }
  // A page's start is the last key returned + "\0": one byte over the key limit at most.
  const startKey = r.startKey ?? '';
  if (startKey.length * 3 > limits.maxKeyBytes && utf8Bytes(startKey) > limits.maxKeyBytes + 1) {
    throw invalidArgument(`start_key is longer than the key limit of ${limits.maxKeyBytes} bytes (+ 1)`);
  }
  if (r.limit > limits.maxRangeLimit) {
    throw invalidArgument(`limit ${r.limit} is above the maximum of ${limits.maxRangeLimit}`);
  }
  const limit = r.limit === 0 ? limits.defaultRangeLimit : r.limit;
  return {
    prefix: r.prefix,
    limit,
    consistency: r.consistency,
    maxBytes: limits.maxResponseBytes,
    ...(startKey === '' ? {} : { startKey }),
    ...(r.keysOnly === true ? { keysOnly: true } : {}),
    ...(r.countOnly === true ? { countOnly: true } : {}),
  };
}
