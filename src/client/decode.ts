// Wire JSON (protobuf JSON of leasekv.v1) → client result types, checking every field's type:
// a node of another version must not turn into undefined values deep inside a caller.
import type {
  CasResult,
  DeleteResult,
  GetResult,
  KeyValue,
  Member,
  NodeStatus,
  PutResult,
  RangeResult,
  ReadMode,
  Role,
  TxnOpResponse,
  TxnResult,
} from './types.ts';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError(`${what}: expected an object`);
  return v as Obj;
}
function str(o: Obj, k: string): string {
  const v = o[k];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new DecodeError(`field ${k}: expected a string`);
  return v;
}
function bool(o: Obj, k: string): boolean {
  const v = o[k];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new DecodeError(`field ${k}: expected a boolean`);
  return v;
}
/** uint64 arrive as decimal strings, uint32 as numbers; both accepted. */
function num(o: Obj, k: string): number {
  const v = o[k];
  if (v === undefined) return 0;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new DecodeError(`field ${k}: expected a number`);
  return n;
}

const READ_MODES: Readonly<Record<string, ReadMode>> = {
  READ_MODE_LEASE: 'lease',
  READ_MODE_READ_INDEX: 'readindex',
  READ_MODE_STALE: 'stale',
};
const ROLES: Readonly<Record<string, Role>> = { LEADER: 'leader', FOLLOWER: 'follower', CANDIDATE: 'candidate' };

export function decodePut(j: unknown): PutResult {
  const o = obj(j, 'PutResponse');
  return { index: num(o, 'index'), revision: num(o, 'revision') };
}
export function decodeGet(j: unknown): GetResult {
  const o = obj(j, 'GetResponse');
  return {
    found: bool(o, 'found'),
    value: str(o, 'value'),
    index: num(o, 'index'),
    readMode: READ_MODES[str(o, 'readMode')] ?? 'unknown',
    staleByMs: num(o, 'staleByMs'),
    revision: num(o, 'revision'),
    createRevision: num(o, 'createRevision'),
    modRevision: num(o, 'modRevision'),
    version: num(o, 'version'),
  };
}
export function decodeDelete(j: unknown): DeleteResult {
  const o = obj(j, 'DeleteResponse');
  return { deleted: bool(o, 'deleted'), index: num(o, 'index'), revision: num(o, 'revision') };
}
export function decodeCas(j: unknown): CasResult {
  const o = obj(j, 'CompareAndSwapResponse');
  const base = { swapped: bool(o, 'swapped'), index: num(o, 'index'), revision: num(o, 'revision') };
  return o['current'] === undefined ? base : { ...base, current: str(o, 'current') };
}
export function decodeKeyValue(e: unknown): KeyValue {
  const kv = obj(e, 'KeyValue');
  return {
    key: str(kv, 'key'),
    value: str(kv, 'value'),
    createRevision: num(kv, 'createRevision'),
    modRevision: num(kv, 'modRevision'),
    version: num(kv, 'version'),
  };
}
function kvList(o: Obj): KeyValue[] {
  const raw = o['kvs'] ?? [];
  if (!Array.isArray(raw)) throw new DecodeError('field kvs: expected an array');
  return raw.map(decodeKeyValue);
}
export function decodeRange(j: unknown): RangeResult {
  const o = obj(j, 'RangeResponse');
  const base = { kvs: kvList(o), more: bool(o, 'more'), count: num(o, 'count') };
  return { ...base, index: num(o, 'index'), revision: num(o, 'revision') };
}
function decodeOpResponse(e: unknown): TxnOpResponse {
  const o = obj(e, 'ResponseOp');
  if (o['responsePut'] !== undefined) return { op: 'put' };
  if (o['responseDelete'] !== undefined)
    return { op: 'delete', deleted: bool(obj(o['responseDelete'], 'DeleteResponse'), 'deleted') };
  if (o['responseGet'] !== undefined) {
    const g = decodeGet(o['responseGet']);
    if (!g.found) return { op: 'get', found: false };
    const kv = {
      key: '',
      value: g.value,
      createRevision: g.createRevision,
      modRevision: g.modRevision,
      version: g.version,
    };
    return { op: 'get', found: true, kv };
  }
  if (o['responseRange'] !== undefined) {
    const r = obj(o['responseRange'], 'RangeResponse');
    return { op: 'range', kvs: kvList(r), more: bool(r, 'more') };
  }
  throw new DecodeError('ResponseOp: no known response field');
}
export function decodeTxn(j: unknown): TxnResult {
  const o = obj(j, 'TxnResponse');
  const raw = o['responses'] ?? [];
  if (!Array.isArray(raw)) throw new DecodeError('field responses: expected an array');
  return {
    succeeded: bool(o, 'succeeded'),
    responses: raw.map(decodeOpResponse),
    index: num(o, 'index'),
    revision: num(o, 'revision'),
  };
}
export function decodeStatus(j: unknown): NodeStatus {
  const o = obj(j, 'StatusResponse');
  const rawMembers = o['members'] ?? [];
  if (!Array.isArray(rawMembers)) throw new DecodeError('field members: expected an array');
  const members: Member[] = rawMembers.map((e: unknown) => {
    const m = obj(e, 'Member');
    return {
      id: str(m, 'id'),
      peerAddr: str(m, 'peerAddr'),
      clientAddr: str(m, 'clientAddr'),
      learner: bool(m, 'learner'),
      protocolVersion: num(m, 'protocolVersion'),
      softwareVersion: str(m, 'softwareVersion'),
    };
  });
  return {
    id: str(o, 'id'),
    role: ROLES[str(o, 'role')] ?? 'unknown',
    term: num(o, 'term'),
    leader: str(o, 'leader'),
    leaderClientAddr: str(o, 'leaderClientAddr'),
    commitIndex: num(o, 'commitIndex'),
    appliedIndex: num(o, 'appliedIndex'),
    leaseHeld: bool(o, 'leaseHeld'),
    leaseRemainingMs: num(o, 'leaseRemainingMs'),
    oldLeaseRemainingMs: num(o, 'oldLeaseRemainingMs'),
    members,
    keys: num(o, 'keys'),
    version: str(o, 'version'),
    revision: num(o, 'revision'),
    configIndex: num(o, 'configIndex'),
    configCommitted: bool(o, 'configCommitted'),
    minProtocolVersion: num(o, 'minProtocolVersion'),
    maxProtocolVersion: num(o, 'maxProtocolVersion'),
    clusterProtocolVersion: num(o, 'clusterProtocolVersion'),
  };
}
