// The kv snapshot format, encoded and decoded in steps so a large state (a million keys) can be
// processed without blocking the host's event loop for seconds: the async variants yield between
// slices, so heartbeats and lease renewals keep flowing while a snapshot is taken or installed.
//
// Layout (version 4; issue 12: membership, issue 14: TTL grants):
//   "LKVS" u8 version | varint appliedIndex | varint appliedTerm | varint revision
//   | varint compactRevision | varint keyCount
//   | keyCount × (str key, str value, varint create, varint mod, varint version) in strictly
//     ascending key order
//   | sessions (sessions.ts) | bytes membership table (members.ts) | TTL grants (ttl.ts)
//   | u32 CRC32 (zlib) of everything before it
// Version 3 (still read): no TTL grants. Version 2 (still read): also no membership table (an
// empty one). Version 1 (still read): also no revision, no compactRevision, keys as (str key,
// str value). Its keys are read as created and last modified at revision 1, version 1, and the
// store's revision as 1 (0 when empty): every comparison and watch then starts from a consistent
// state.
// Keys are written sorted, so equal states give equal bytes whatever history produced them.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { ByteReader, ByteWriter, varintSize } from '../util/bytes.ts';
import { SessionTable, type SessionConfig } from './sessions.ts';
import { TtlTable } from './ttl.ts';

/** The snapshot bytes are corrupt, truncated or of an unknown version. */
export class SnapshotDecodeError extends Error {
  override readonly name = 'SnapshotDecodeError';
}

const MAGIC = Buffer.from('LKVS', 'latin1');
const SNAPSHOT_VERSION = 4;
/** Keys handled per step: a few milliseconds of work between yields. */
const KEYS_PER_STEP = 16_384;
const snapFail = (m: string): Error => new SnapshotDecodeError(m);

/** A key's value and revisions (the state machine's per-key record; never mutated once stored). */
export class KeyRecord {
  constructor(
    readonly value: string,
    /** Revision of the put that created the key (since it was last absent). */
    readonly create: number,
    /** Revision of the last put. */
    readonly mod: number,
    /** Puts since the key was created (1 after the first). */
    readonly version: number,
  ) {}
}

/** A consistent view of the state to encode. */
export interface FrozenState {
  readonly applied: number;
  readonly appliedTerm: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly keyCount: number;
  /** Concatenated, the keys in strictly ascending order. */
  readonly blocks: readonly (readonly string[])[];
  /** The record each key had when the view was taken. */
  readonly valueOf: (key: string) => KeyRecord;
  readonly sessionBytes: Uint8Array;
  readonly memberBytes: Uint8Array;
  readonly ttlBytes: Uint8Array;
}

export interface DecodedState {
  readonly applied: number;
  readonly appliedTerm: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly data: Map<string, KeyRecord>;
  /** Strictly ascending (checked). */
  readonly keys: string[];
  readonly sessions: SessionTable;
  readonly ttls: TtlTable;
  readonly chars: number;
  readonly memberBytes: Uint8Array;
}

export type Steps<T> = Generator<void, T, void>;

export function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

export async function runAsync<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export function* encodeSnapshot(s: FrozenState): Steps<Uint8Array> {
  // Size exactly first, so a large state is written once into one buffer (no doubling copies).
  let dataBytes = 0;
  let done = 0;
  for (const block of s.blocks) {
    for (const key of block) {
      const rec = s.valueOf(key);
      const kb = Buffer.byteLength(key, 'utf8');
      const vb = Buffer.byteLength(rec.value, 'utf8');
      dataBytes +=
        varintSize(kb) +
        kb +
        varintSize(vb) +
        vb +
        varintSize(rec.create) +
        varintSize(rec.mod) +
        varintSize(rec.version);
    }
    done += block.length;
    if (done >= KEYS_PER_STEP) {
      done = 0;
      yield;
    }
  }
  const header = MAGIC.length + 1 + 5 * 9;
  const w = new ByteWriter(
    header + dataBytes + s.sessionBytes.length + 9 + s.memberBytes.length + s.ttlBytes.length + 4,
  );
  w.rawBytes(MAGIC);
  w.u8(SNAPSHOT_VERSION);
  w.varint(s.applied);
  w.varint(s.appliedTerm);
  w.varint(s.revision);
  w.varint(s.compactRevision);
  w.varint(s.keyCount);
  for (const block of s.blocks) {
    for (const key of block) {
      const rec = s.valueOf(key);
      w.str(key);
      w.str(rec.value);
      w.varint(rec.create);
      w.varint(rec.mod);
      w.varint(rec.version);
    }
    done += block.length;
    if (done >= KEYS_PER_STEP) {
      done = 0;
      yield;
    }
  }
  w.rawBytes(s.sessionBytes);
  w.bytes(s.memberBytes);
  w.rawBytes(s.ttlBytes);
  w.u32(crc32(w.view()));
  return w.finish();
}

/** Decodes and validates; throws SnapshotDecodeError (and nothing else) on bad bytes. */
export function* decodeSnapshot(bytes: Uint8Array, sessionConfig: SessionConfig): Steps<DecodedState> {
  if (bytes.length < MAGIC.length + 5) throw new SnapshotDecodeError('snapshot too short');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLen = buf.length - 4;
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotDecodeError('bad snapshot magic');
  if (crc32(buf.subarray(0, bodyLen)) !== buf.readUInt32BE(bodyLen))
    throw new SnapshotDecodeError('snapshot CRC mismatch');
  yield;
  // CRC-checked: decode strings without the strict UTF-8 check (faster for a million keys).
  const r = new ByteReader(buf.subarray(MAGIC.length, bodyLen), snapFail, false);
  const version = r.u8('version');
  if (version < 1 || version > SNAPSHOT_VERSION) throw new SnapshotDecodeError(`unknown snapshot version ${version}`);
  const applied = r.varint('appliedIndex');
  const appliedTerm = r.varint('appliedTerm');
  let revision = version === 1 ? 0 : r.varint('revision');
  const compactRevision = version === 1 ? 0 : r.varint('compactRevision');
  if (compactRevision > revision)
    throw new SnapshotDecodeError(`compact revision ${compactRevision} is above the revision ${revision}`);
  const count = r.varint('key count');
  // Each key/value pair takes at least 2 bytes: a hostile count cannot make us allocate much.
  if (count > r.remaining / 2) throw new SnapshotDecodeError(`key count ${count} exceeds snapshot size`);
  if (version === 1 && count > 0) revision = 1;
  const data = new Map<string, KeyRecord>();
  const keys = new Array<string>(count);
  let chars = 0;
  let prev: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.str('key');
    const value = r.str('value');
    const rec =
      version === 1
        ? new KeyRecord(value, 1, 1, 1)
        : new KeyRecord(value, r.varint('create'), r.varint('mod'), r.varint('version'));
    if (!(rec.create >= 1 && rec.create <= rec.mod && rec.mod <= revision && rec.version >= 1)) {
      throw new SnapshotDecodeError(
        `key revisions out of order (create ${rec.create}, mod ${rec.mod}, version ${rec.version}, store revision ${revision})`,
      );
    }
    if (prev !== undefined && !(prev < key)) throw new SnapshotDecodeError('snapshot keys not strictly ascending');
    prev = key;
    keys[i] = key;
    data.set(key, rec);
    chars += key.length + value.length;
    if (i % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
  }
  const sessions = new SessionTable(sessionConfig);
  sessions.read(r, snapFail);
  const memberBytes = version < 3 ? new Uint8Array(0) : r.bytes('membership table');
  const ttls = new TtlTable();
  if (version >= 4) ttls.read(r, snapFail, (k) => data.has(k));
  r.expectEnd('snapshot');
  return { applied, appliedTerm, revision, compactRevision, data, keys, sessions, ttls, chars, memberBytes };
}
