// The plain shapes of the JSON fast path's bodies (fast-path.ts): a body of exactly this shape is
// answered by the fast path (and framing.ts); any other is handed to Connect, which answers it as it
// always would.
import type { Consistency, GetRequest, PutRequest } from '../backend.ts';
import type { ApiLimits } from './limits.ts';
import { isWellFormed, toPut } from './validate.ts';

/** A request framing.ts may answer (FastPath.frameable): checked, nothing done yet. */
export type Framable =
  { readonly kind: 'put'; readonly r: PutRequest } | { readonly kind: 'get'; readonly r: GetRequest };

export interface PlainGet {
  readonly key: string | undefined;
  readonly consistency: Consistency;
}

/** A Get body of exactly the plain shape, or undefined (then Connect answers it). */
export function plainGet(body: unknown): PlainGet | undefined {
  if (!isPlainObject(body)) return undefined;
  let key: string | undefined;
  let consistency: Consistency = 'linearizable';
  for (const k in body) {
    const v = body[k];
    if (k === 'key' && typeof v === 'string' && isWellFormed(v)) key = v;
    else if (k === 'consistency' && v === 'STALE') consistency = 'stale';
    else if (k === 'consistency' && v === 'LINEARIZABLE') consistency = 'linearizable';
    else return undefined;
  }
  return { key, consistency };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Put body of exactly the plain shape, checked (throws ConnectError), or undefined (then Connect answers it). */
export function plainPut(body: unknown, limits: ApiLimits): PutRequest | undefined {
  if (!isPlainObject(body)) return undefined;
  let key = '';
  let value = '';
  let clientId = '';
  let seq = 0;
  for (const k in body) {
    const v = body[k];
    if (k === 'key' && typeof v === 'string' && isWellFormed(v)) key = v;
    else if (k === 'value' && typeof v === 'string' && isWellFormed(v)) value = v;
    else if (k === 'clientId' && typeof v === 'string' && isWellFormed(v)) clientId = v;
    else if (k === 'seq' && typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) seq = v;
    else if (k === 'seq' && typeof v === 'string' && /^(0|[1-9]\d{0,14})$/.test(v)) seq = Number(v);
    else return undefined;
  }
  return toPut({ key, value, clientId, seq }, limits);
}
