// What applying a command returns, and its binary form (session caches travel in snapshots).
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

/** A key with its revisions (issue 14): created at `create`, last changed at `mod`, `version` puts since created. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
}

/** What one operation of a transaction returned. */
export type TxnOpResult =
  | { readonly op: 'put' }
  | { readonly op: 'delete'; readonly deleted: boolean }
  /** kv absent: the key did not exist. */
  | { readonly op: 'get'; readonly kv?: KeyValue }
  | { readonly op: 'range'; readonly kvs: readonly KeyValue[]; readonly more: boolean };

// `revision` in every result: the store's revision just after the command (the revision its
// writes got, or the unchanged current one when it wrote nothing). Results cached by sessions in
// snapshots of format 1 carry none: they read back as revision 0.
export type ApplyResult =
  /** prev: the value the key had before, if it existed. */
  | { readonly op: 'put'; readonly prev?: string; readonly revision: number }
  | { readonly op: 'delete'; readonly deleted: boolean; readonly revision: number }
  /** current: when not swapped, the key's actual value (absent if the key is absent). */
  | { readonly op: 'cas'; readonly swapped: boolean; readonly current?: string; readonly revision: number }
  /** A TTL grant made: its id (the entry's index) and TTL. */
  | { readonly op: 'ttl-grant'; readonly id: number; readonly ttlMs: number; readonly revision: number }
  /** A grant ended (its keys deleted at `revision`); found false: there was no such grant. */
  | { readonly op: 'ttl-revoke' | 'ttl-expire'; readonly found: boolean; readonly revision: number }
  /** History before compactRevision is forgotten (the request is clamped to the current revision). */
  | { readonly op: 'compact'; readonly compactRevision: number; readonly revision: number }
  /** A put named a TTL grant that does not exist (any more); nothing was changed. */
  | { readonly op: 'ttl-not-found'; readonly id: number; readonly revision: number }
  /** succeeded: every compare held and `success` ran (else `failure`); one result per operation run. */
  | {
      readonly op: 'txn';
      readonly succeeded: boolean;
      readonly revision: number;
      readonly results: readonly TxnOpResult[];
    }
  /** The client's seq is older than the last one applied for it: the answer is no longer known. */
  | { readonly op: 'session-stale'; readonly clientId: string; readonly seq: number; readonly lastSeq: number }
  /**
   * No session is known for this client and seq > 1: it was evicted or expired, so a retry cannot
   * be told from a first attempt. The client must start a new session (new clientId, seq 1).
   */
  | { readonly op: 'session-expired'; readonly clientId: string; readonly seq: number }
  /** A change to users and roles (kv/auth.ts); `refused`: why nothing was changed. */
  | { readonly op: 'auth'; readonly refused?: string; readonly revision: number }
  /** The entry's bytes are not a valid command (CommandDecodeError); nothing was changed. */
  | { readonly op: 'invalid'; readonly reason: string };

// Tags 1-3 (put, delete, cas without a revision) are only read, from format-1 snapshots.
const OLD_TAG = { put: 1, delete: 2, cas: 3 } as const;
const TAG = {
  'session-stale': 4,
  'session-expired': 5,
  invalid: 6,
  put: 7,
  delete: 8,
  cas: 9,
  txn: 10,
  'ttl-grant': 11,
  'ttl-revoke': 12,
  'ttl-expire': 13,
  'ttl-not-found': 14,
  compact: 15,
  auth: 16,
} as const;

const FLAG_HAS_VALUE = 1;

export function writeResult(w: ByteWriter, r: ApplyResult): void {
  w.u8(TAG[r.op]);
  switch (r.op) {
    case 'put':
      optionalStr(w, r.prev, 0);
      w.varint(r.revision);
      return;
    case 'delete':
      w.u8(r.deleted ? 1 : 0);
      w.varint(r.revision);
      return;
    case 'cas':
      optionalStr(w, r.current, r.swapped ? 2 : 0);
      w.varint(r.revision);
      return;
    case 'ttl-grant':
      w.varint(r.id);
      w.varint(r.ttlMs);
      w.varint(r.revision);
      return;
    case 'ttl-revoke':
    case 'ttl-expire':
      w.u8(r.found ? 1 : 0);
      w.varint(r.revision);
      return;
    case 'ttl-not-found':
      w.varint(r.id);
      w.varint(r.revision);
      return;
    case 'compact':
      w.varint(r.compactRevision);
      w.varint(r.revision);
      return;
    case 'txn':
      w.u8(r.succeeded ? 1 : 0);
      w.varint(r.revision);
      w.varint(r.results.length);
      for (const o of r.results) writeOpResult(w, o);
      return;
    case 'session-stale':
      w.str(r.clientId);
      w.varint(r.seq);
      w.varint(r.lastSeq);
      return;
    case 'session-expired':
      w.str(r.clientId);
      w.varint(r.seq);
      return;
    case 'invalid':
      w.str(r.reason);
      return;
    case 'auth':
      optionalStr(w, r.refused, 0);
      w.varint(r.revision);
      return;
  }
}

function optionalStr(w: ByteWriter, s: string | undefined, extraFlags: number): void {
  w.u8((s === undefined ? 0 : FLAG_HAS_VALUE) | extraFlags);
  if (s !== undefined) w.str(s);
}

const OP_TAG = { put: 1, delete: 2, get: 3, range: 4 } as const;

export function writeKeyValue(w: ByteWriter, kv: KeyValue): void {
  w.str(kv.key);
  w.str(kv.value);
  w.varint(kv.create);
  w.varint(kv.mod);
  w.varint(kv.version);
}

export function readKeyValue(r: ByteReader): KeyValue {
  return {
    key: r.str('key'),
    value: r.str('value'),
    create: r.varint('create'),
    mod: r.varint('mod'),
    version: r.varint('version'),
  };
}

function writeOpResult(w: ByteWriter, o: TxnOpResult): void {
  w.u8(OP_TAG[o.op]);
  switch (o.op) {
    case 'put':
      return;
    case 'delete':
      w.u8(o.deleted ? 1 : 0);
      return;
    case 'get':
      w.u8(o.kv === undefined ? 0 : 1);
      if (o.kv !== undefined) writeKeyValue(w, o.kv);
      return;
    case 'range':
      w.u8(o.more ? 1 : 0);
      w.varint(o.kvs.length);
      for (const kv of o.kvs) writeKeyValue(w, kv);
      return;
  }
}

function readOpResult(r: ByteReader, fail: (m: string) => Error): TxnOpResult {
  const tag = r.u8('txn op result tag');
  switch (tag) {
    case OP_TAG.put:
      return { op: 'put' };
    case OP_TAG.delete:
      return { op: 'delete', deleted: r.u8('deleted') === 1 };
    case OP_TAG.get:
      return r.u8('found') === 1 ? { op: 'get', kv: readKeyValue(r) } : { op: 'get' };
    case OP_TAG.range: {
      const more = r.u8('more') === 1;
      const n = r.varint('range count');
      if (n > r.remaining / 5) throw fail(`range count ${n} exceeds the remaining bytes`);
      const kvs: KeyValue[] = [];
      for (let i = 0; i < n; i++) kvs.push(readKeyValue(r));
      return { op: 'range', kvs, more };
    }
    default:
      throw fail(`unknown txn op result tag ${tag}`);
  }
}

function readPut(r: ByteReader, revision: (r: ByteReader) => number): ApplyResult {
  const flags = r.u8('put flags');
  const prev = (flags & FLAG_HAS_VALUE) !== 0 ? r.str('prev') : undefined;
  const rev = revision(r);
  return prev === undefined ? { op: 'put', revision: rev } : { op: 'put', prev, revision: rev };
}

function readCas(r: ByteReader, revision: (r: ByteReader) => number): ApplyResult {
  const flags = r.u8('cas flags');
  const swapped = (flags & 2) !== 0;
  const current = (flags & FLAG_HAS_VALUE) !== 0 ? r.str('current') : undefined;
  const rev = revision(r);
  return current === undefined ? { op: 'cas', swapped, revision: rev } : { op: 'cas', swapped, current, revision: rev };
}

const noRevision = (): number => 0;
const readRevision = (r: ByteReader): number => r.varint('revision');

export function readResult(r: ByteReader, fail: (m: string) => Error): ApplyResult {
  const tag = r.u8('result tag');
  switch (tag) {
    case OLD_TAG.put:
      return readPut(r, noRevision);
    case OLD_TAG.delete:
      return { op: 'delete', deleted: r.u8('deleted') === 1, revision: 0 };
    case OLD_TAG.cas:
      return readCas(r, noRevision);
    case TAG.put:
      return readPut(r, readRevision);
    case TAG.delete:
      return { op: 'delete', deleted: r.u8('deleted') === 1, revision: r.varint('revision') };
    case TAG.cas:
      return readCas(r, readRevision);
    case TAG['ttl-grant']:
      return { op: 'ttl-grant', id: r.varint('ttl id'), ttlMs: r.varint('ttlMs'), revision: r.varint('revision') };
    case TAG['ttl-revoke']:
      return { op: 'ttl-revoke', found: r.u8('found') === 1, revision: r.varint('revision') };
    case TAG['ttl-expire']:
      return { op: 'ttl-expire', found: r.u8('found') === 1, revision: r.varint('revision') };
    case TAG['ttl-not-found']:
      return { op: 'ttl-not-found', id: r.varint('ttl id'), revision: r.varint('revision') };
    case TAG.compact:
      return { op: 'compact', compactRevision: r.varint('compactRevision'), revision: r.varint('revision') };
    case TAG.txn: {
      const succeeded = r.u8('succeeded') === 1;
      const revision = r.varint('revision');
      const n = r.varint('txn result count');
      if (n > r.remaining) throw fail(`txn result count ${n} exceeds the remaining bytes`);
      const results: TxnOpResult[] = [];
      for (let i = 0; i < n; i++) results.push(readOpResult(r, fail));
      return { op: 'txn', succeeded, revision, results };
    }
    case TAG['session-stale']:
      return { op: 'session-stale', clientId: r.str('clientId'), seq: r.varint('seq'), lastSeq: r.varint('lastSeq') };
    case TAG['session-expired']:
      return { op: 'session-expired', clientId: r.str('clientId'), seq: r.varint('seq') };
    case TAG.invalid:
      return { op: 'invalid', reason: r.str('reason') };
    case TAG.auth: {
      const refused = (r.u8('auth flags') & FLAG_HAS_VALUE) !== 0 ? r.str('refused') : undefined;
      const revision = r.varint('revision');
      return refused === undefined ? { op: 'auth', revision } : { op: 'auth', refused, revision };
    }
    default:
      throw fail(`unknown result tag ${tag}`);
  }
}
