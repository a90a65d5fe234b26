// The kv snapshot format, encoded and decoded in steps so a large state (a million keys) can be
// processed without blocking the host's event loop for seconds: the async variants yield between
// slices, so heartbeats and lease renewals keep flowing while a snapshot is taken or installed.
//
// Layout (version 6; issue 12: membership, issue 14: TTL grants, issue 16: keys in bulk, issue 15:
// users and roles):
//   "LKVS" u8 version | varint appliedIndex | varint appliedTerm | varint revision
//   | varint compactRevision | varint keyCount | varint keyBytes
//   | keyBytes bytes: keyCount × (str key, str value, varint create, varint mod, varint version) in
//     strictly ascending UTF-8 byte order — exactly the store's page encoding (store.ts), so
//     encoding copies pages and decoding cuts the section into pages without making a string
//   | sessions (sessions.ts) | bytes membership table (members.ts) | TTL grants (ttl.ts)
//   | bytes users and roles (auth.ts; empty when auth was never enabled)
//   | u32 CRC32 (zlib) of everything before it
// Sections added later go after the TTL grants, with the next version (one place: encodeSnapshot,
// decodeSnapshot).
// Version 5 (still read): no users and roles. Version 4 (still read): also no keyBytes, keys in JavaScript string order (UTF-16 units; it differs
// from byte order only between characters above U+FFFF and U+E000..U+FFFF: such keys are re-sorted).
// Version 3 (still read): also no TTL grants. Version 2 (still read): also no membership table (an
// empty one). Version 1 (still read): also no revision, no compactRevision, keys as (str key,
// str value). Its keys are read as created and last modified at revision 1, version 1, and the
// store's revision as 1 (0 when empty): every comparison and watch then starts from a consistent
// state.
// Keys are written sorted, so equal states give equal bytes whatever history produced them.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { assert } from '../util/assert.ts';
import { ByteReader, ByteWriter } from '../util/bytes.ts';
import { cursor, readVarint } from './page-codec.ts';
import { SessionTable, type SessionConfig } from './sessions.ts';
import { compareBytes, KeyStore, Page, PAGE_MAX_BYTES, type StoreView } from './store.ts';
import { TtlTable } from './ttl.ts';

/** The snapshot bytes are corrupt, truncated or of an unknown version. */
export class SnapshotDecodeError extends Error {
  override readonly name = 'SnapshotDecodeError';
}

export const MAGIC = Buffer.from('LKVS', 'latin1');
export const SNAPSHOT_VERSION = 6;
/** Keys handled per step: a few milliseconds of work between yields. */
const KEYS_PER_STEP = 16_384;
/** Bytes copied per step when encoding. */
const BYTES_PER_STEP = 4 << 20;
/** Restored pages are filled to about this much (room for a few inserts before a split). */
export const RESTORE_PAGE_BYTES = (PAGE_MAX_BYTES * 3) >> 2;
export const snapFail = (m: string): Error => new SnapshotDecodeError(m);

/** A consistent view of the state to encode. */
export interface FrozenState {
  readonly applied: number;
  readonly appliedTerm: number;
  readonly revision: number;
  readonly compactRevision: number;
  /** The keys (store.ts pages), unchanged while the encoding runs. */
  readonly view: StoreView;
  readonly sessionBytes: Uint8Array;
  readonly memberBytes: Uint8Array;
  readonly ttlBytes: Uint8Array;
  readonly authBytes: Uint8Array;
}

export interface DecodedState {
  readonly applied: number;
  readonly appliedTerm: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly store: KeyStore;
  readonly sessions: SessionTable;
  readonly ttls: TtlTable;
  readonly memberBytes: Uint8Array;
  readonly authBytes: Uint8Array;
}

export type Steps<T> = Generator<void, T, void>;

/**
 * A snapshot's bytes handed out a batch at a time (issue 16: never one buffer of the snapshot's
 * size). The same shape as storage's SnapshotBody (src/storage/snapshot_save.ts) and the host's.
 */
export interface SnapshotPieces {
  /** All the bytes next() hands out, in total. */
  readonly totalBytes: number;
  /** The next bytes in order (a few MiB at most in all), or null after the last; valid until release(). */
  next(): readonly Uint8Array[] | null;
  /** Lets what the pieces are views of go (the frozen pages). Idempotent. */
  release(): void;
}

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

/** The encoding's bytes, known before any is made (the key section is the pages' bytes as they are). */
function encodeParts(s: FrozenState): { head: Uint8Array; tail: Uint8Array; totalBytes: number } {
  const { view } = s;
  const head = new ByteWriter(64);
  head.rawBytes(MAGIC);
  head.u8(SNAPSHOT_VERSION);
  head.varint(s.applied);
  head.varint(s.appliedTerm);
  head.varint(s.revision);
  head.varint(s.compactRevision);
  head.varint(view.keyCount);
  head.varint(view.entryBytes);
  const tail = new ByteWriter(
    s.sessionBytes.length + s.memberBytes.length + s.ttlBytes.length + s.authBytes.length + 32,
  );
  tail.rawBytes(s.sessionBytes);
  tail.bytes(s.memberBytes);
  tail.rawBytes(s.ttlBytes);
  tail.bytes(s.authBytes);
  return { head: head.finish(), tail: tail.finish(), totalBytes: head.length + view.entryBytes + tail.length + 4 };
}

/**
 * The snapshot's bytes in order, in batches of at most about BYTES_PER_STEP (issue 16): the key
 * section's batches are views of the frozen pages — not copies, so they stay valid only while the
 * view lives — and the CRC32 is computed batch by batch; the last batch ends with it. Nothing of the
 * snapshot's size is allocated.
 */
export function encodedSnapshot(s: FrozenState): {
  readonly totalBytes: number;
  readonly batches: Generator<Uint8Array[], void, void>;
} {
  const parts = encodeParts(s);
  return { totalBytes: parts.totalBytes, batches: encodeBatches(s.view, parts.head, parts.tail) };
}

function* encodeBatches(view: StoreView, head: Uint8Array, tail: Uint8Array): Generator<Uint8Array[], void, void> {
  let crc = crc32(head);
  let batch: Uint8Array[] = [head];
  let batchBytes = head.length;
  for (const page of view.pages) {
    const bytes = page.buf.subarray(0, page.used);
    crc = crc32(bytes, crc);
    batch.push(bytes);
    batchBytes += bytes.length;
    if (batchBytes >= BYTES_PER_STEP) {
      yield batch;
      batch = [];
      batchBytes = 0;
    }
  }
  crc = crc32(tail, crc);
  const end = Buffer.allocUnsafe(4);
  end.writeUInt32BE(crc, 0);
  batch.push(tail, end);
  yield batch;
}

/** The whole encoding in one buffer (the simulator, tests, backups), copied a batch per step. */
export function* encodeSnapshot(s: FrozenState): Steps<Uint8Array> {
  const enc = encodedSnapshot(s);
  const out = Buffer.allocUnsafeSlow(enc.totalBytes);
  let pos = 0;
  for (const batch of enc.batches) {
    for (const b of batch) {
      out.set(b, pos);
      pos += b.length;
    }
    yield;
  }
  assert(pos === out.length, () => `snapshot encoded ${pos} bytes, expected ${out.length}`);
  return out;
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
  const store =
    version >= 5
      ? yield* pagesFrom(r.view(r.varint('key section length'), 'key section'), count, revision)
      : yield* oldKeys(r, version, count, revision);
  const sessions = new SessionTable(sessionConfig);
  sessions.read(r, snapFail);
  const memberBytes = version < 3 ? new Uint8Array(0) : r.bytes('membership table');
  const ttls = new TtlTable();
  if (version >= 4) ttls.read(r, snapFail, (k) => store.get(k)?.value);
  const authBytes = version < 6 ? new Uint8Array(0) : r.bytes('users and roles');
  r.expectEnd('snapshot');
  return { applied, appliedTerm, revision, compactRevision, store, sessions, ttls, memberBytes, authBytes };
}

export function checkRevisions(create: number, mod: number, version: number, revision: number): void {
  if (!(create >= 1 && create <= mod && mod <= revision && version >= 1)) {
    throw new SnapshotDecodeError(
      `key revisions out of order (create ${create}, mod ${mod}, version ${version}, store revision ${revision})`,
    );
  }
}

/** Version 5: validates the key section entry by entry and cuts it into pages (copies, no strings). */
function* pagesFrom(section: Uint8Array, count: number, revision: number): Steps<KeyStore> {
  const end = section.length;
  const bad = (what: string, at: number): Error => new SnapshotDecodeError(`${what} at key section offset ${at}`);
  const varint = (p: number, what: string): number => {
    if (p >= end) throw bad(`truncated ${what}`, p);
    const v = readVarint(section, p);
    if (cursor.end > end || !Number.isSafeInteger(v)) throw bad(`bad ${what}`, p);
    return v;
  };
  const pages: Page[] = [];
  let offs: number[] = [];
  let pageStart = 0;
  let p = 0;
  let prevKs = 0;
  let prevKe = -1;
  let dataBytes = 0;
  for (let i = 0; i < count; i++) {
    const start = p;
    const klen = varint(p, 'key length');
    const ks = cursor.end;
    const ke = ks + klen;
    if (ke > end) throw bad('truncated key', ks);
    if (prevKe >= 0 && compareBytes(section, prevKs, prevKe, section, ks, ke) >= 0)
      throw new SnapshotDecodeError('snapshot keys not strictly ascending');
    const vlen = varint(ke, 'value length');
    const ve = cursor.end + vlen;
    if (ve > end) throw bad('truncated value', cursor.end);
    const create = varint(ve, 'create revision');
    const mod = varint(cursor.end, 'mod revision');
    const version = varint(cursor.end, 'version');
    checkRevisions(create, mod, version, revision);
    p = cursor.end;
    dataBytes += klen + vlen;
    prevKs = ks;
    prevKe = ke;
    if (start - pageStart >= RESTORE_PAGE_BYTES) {
      pages.push(cutPage(section, pageStart, start, offs));
      offs = [];
      pageStart = start;
    }
    offs.push(start - pageStart);
    if (i % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
  }
  if (p !== end) throw bad('trailing bytes', p);
  if (offs.length > 0) pages.push(cutPage(section, pageStart, p, offs));
  return KeyStore.fromPages(pages, dataBytes);
}

export function cutPage(section: Uint8Array, from: number, to: number, offs: number[]): Page {
  const buf = Buffer.allocUnsafeSlow(to - from);
  buf.set(section.subarray(from, to), 0);
  const o = new Uint32Array(Math.max(8, offs.length + (offs.length >> 3)));
  o.set(offs);
  return new Page(buf, to - from, o, offs.length, 0);
}

/** Versions 1-4: keys one by one, ascending in JavaScript string order (checked), into a store in byte order. */
function* oldKeys(r: ByteReader, version: number, count: number, revision: number): Steps<KeyStore> {
  const store = new KeyStore();
  let prev: string | undefined;
  for (let i = 0; i < count; i++) {
    const key = r.str('key');
    const value = r.str('value');
    if (version === 1) {
      store.set(key, value, 1, 1, 1);
    } else {
      const create = r.varint('create');
      const mod = r.varint('mod');
      const v = r.varint('version');
      checkRevisions(create, mod, v, revision);
      store.set(key, value, create, mod, v);
    }
    if (prev !== undefined && !(prev < key)) throw new SnapshotDecodeError('snapshot keys not strictly ascending');
    prev = key;
    if (i % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
  }
  return store;
}
