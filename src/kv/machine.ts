// The replicated key-value state machine: applies committed entries in log order, answers reads
// from memory, and snapshots/restores itself (with client sessions) in a compact binary form.
//
// Determinism: the state after applying entries 1..n depends only on those entries and the
// SessionConfig (which must be the same on every replica). A malformed entry yields an 'invalid'
// result and changes nothing but appliedIndex — the apply loop never stops on bad bytes.
//
// Memory: values are plain JS strings in one Map, plus one pointer per key in the sorted index
// (sorted-keys.ts). Nothing else per key.
//
// Snapshot layout (version 1):
//   "LKVS" u8 version | varint appliedIndex | varint appliedTerm | varint keyCount
//   | keyCount × (str key, str value) in strictly ascending key order
//   | sessions (sessions.ts) | u32 CRC32 (zlib) of everything before it
// Keys are written sorted, so equal states give equal bytes whatever history produced them.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { EntryType, type Entry } from '../raft/types.ts';
import { ByteReader, ByteWriter, varintSize } from './bytes.ts';
import { CommandDecodeError, decodeCommand, type Command } from './command.ts';
import type { ApplyResult } from './result.ts';
import { DEFAULT_SESSION_CONFIG, SessionTable, validateSessionConfig, type SessionConfig } from './sessions.ts';
import { SortedKeys } from './sorted-keys.ts';

export type { ApplyResult } from './result.ts';

export interface KvConfig {
  readonly sessions: SessionConfig;
}

export const DEFAULT_KV_CONFIG: KvConfig = { sessions: DEFAULT_SESSION_CONFIG };

/** The snapshot bytes are corrupt, truncated or of an unknown version. */
export class SnapshotDecodeError extends Error {
  override readonly name = 'SnapshotDecodeError';
}

const MAGIC = Buffer.from('LKVS', 'latin1');
const SNAPSHOT_VERSION = 1;
const snapFail = (m: string): Error => new SnapshotDecodeError(m);

export class KvStateMachine {
  private data = new Map<string, string>();
  private index = new SortedKeys();
  private sessions: SessionTable;
  private applied = 0;
  private appliedTermValue = 0;
  /** Sum of key.length + value.length over all keys (UTF-16 code units; ≈ bytes for ASCII). */
  private dataChars = 0;

  constructor(private readonly config: KvConfig = DEFAULT_KV_CONFIG) {
    validateSessionConfig(config.sessions);
    this.sessions = new SessionTable(config.sessions);
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get appliedTerm(): number {
    return this.appliedTermValue;
  }

  get size(): number {
    return this.data.size;
  }

  get approxBytes(): number {
    return this.dataChars;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Applies the next committed entry. Returns null for Noop entries. */
  apply(entry: Entry): ApplyResult | null {
    // Programmer error if the host skips or repeats an index: the state would silently diverge.
    if (entry.index !== this.applied + 1) {
      throw new Error(`apply out of order: got index ${entry.index}, applied ${this.applied}`);
    }
    this.applied = entry.index;
    this.appliedTermValue = entry.term;
    this.sessions.expire(entry.index);
    if (entry.type === EntryType.Noop) return null;
    let cmd: Command;
    try {
      cmd = decodeCommand(entry.data);
    } catch (e) {
      if (e instanceof CommandDecodeError) return { op: 'invalid', reason: e.message };
      throw e;
    }
    if (cmd.session === undefined) return this.execute(cmd);
    const check = this.sessions.check(cmd.session, entry.index);
    if (check.kind === 'answer') return check.result;
    const result = this.execute(cmd);
    this.sessions.record(cmd.session, entry.index, result);
    return result;
  }

  private execute(cmd: Command): ApplyResult {
    const prev = this.data.get(cmd.key);
    switch (cmd.op) {
      case 'put':
        this.set(cmd.key, prev, cmd.value);
        return prev === undefined ? { op: 'put' } : { op: 'put', prev };
      case 'delete':
        if (prev === undefined) return { op: 'delete', deleted: false };
        this.data.delete(cmd.key);
        this.index.delete(cmd.key);
        this.dataChars -= cmd.key.length + prev.length;
        return { op: 'delete', deleted: true };
      case 'cas': {
        const matches = cmd.expected === null ? prev === undefined : prev === cmd.expected;
        if (!matches) return prev === undefined ? { op: 'cas', swapped: false } : { op: 'cas', swapped: false, current: prev };
        this.set(cmd.key, prev, cmd.value);
        return { op: 'cas', swapped: true };
      }
    }
  }

  private set(key: string, prev: string | undefined, value: string): void {
    if (prev === undefined) {
      this.index.insert(key);
      this.dataChars += key.length + value.length;
    } else {
      this.dataChars += value.length - prev.length;
    }
    this.data.set(key, value);
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** Up to `limit` keys starting with `prefix`, ascending (JS string order). */
  range(prefix: string, limit: number): { key: string; value: string }[] {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer >= 0: ${limit}`);
    const out: { key: string; value: string }[] = [];
    if (limit === 0) return out;
    for (const key of this.index.from(prefix)) {
      if (!key.startsWith(prefix)) break;
      out.push({ key, value: this.data.get(key) as string });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The whole state (data, sessions, applied index/term) as compact bytes; see the layout above. */
  snapshot(): Uint8Array {
    // Size exactly first, so a large state is written once into one buffer (no doubling copies).
    let dataBytes = 0;
    for (const key of this.index.from('')) {
      const kb = Buffer.byteLength(key, 'utf8');
      const vb = Buffer.byteLength(this.data.get(key) as string, 'utf8');
      dataBytes += varintSize(kb) + kb + varintSize(vb) + vb;
    }
    const sessionWriter = new ByteWriter(1024);
    this.sessions.write(sessionWriter);
    const sessionBytes = sessionWriter.finish();
    const header = MAGIC.length + 1 + 3 * 9;
    const w = new ByteWriter(header + dataBytes + sessionBytes.length + 4);
    for (const b of MAGIC) w.u8(b);
    w.u8(SNAPSHOT_VERSION);
    w.varint(this.applied);
    w.varint(this.appliedTermValue);
    w.varint(this.data.size);
    for (const key of this.index.from('')) {
      w.str(key);
      w.str(this.data.get(key) as string);
    }
    w.rawBytes(sessionBytes);
    const body = w.view();
    w.u32(crc32(body));
    return w.finish();
  }

  /** Replaces this machine's whole state with a snapshot's. Throws SnapshotDecodeError on bad bytes (state unchanged). */
  restore(bytes: Uint8Array): void {
    if (bytes.length < MAGIC.length + 5) throw new SnapshotDecodeError('snapshot too short');
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bodyLen = buf.length - 4;
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotDecodeError('bad snapshot magic');
    if (crc32(buf.subarray(0, bodyLen)) !== buf.readUInt32BE(bodyLen)) throw new SnapshotDecodeError('snapshot CRC mismatch');
    // CRC-checked: decode strings without the strict UTF-8 check (faster for a million keys).
    const r = new ByteReader(buf.subarray(MAGIC.length, bodyLen), snapFail, false);
    const version = r.u8('version');
    if (version !== SNAPSHOT_VERSION) throw new SnapshotDecodeError(`unknown snapshot version ${version}`);
    const applied = r.varint('appliedIndex');
    const appliedTerm = r.varint('appliedTerm');
    const count = r.varint('key count');
    if (count > r.remaining / 2) throw new SnapshotDecodeError(`key count ${count} exceeds snapshot size`);
    const data = new Map<string, string>();
    const keys = new Array<string>(count);
    let chars = 0;
    let prev: string | undefined;
    for (let i = 0; i < count; i++) {
      const key = r.str('key');
      const value = r.str('value');
      if (prev !== undefined && !(prev < key)) throw new SnapshotDecodeError('snapshot keys not strictly ascending');
      prev = key;
      keys[i] = key;
      data.set(key, value);
      chars += key.length + value.length;
    }
    const sessions = new SessionTable(this.config.sessions);
    sessions.read(r, snapFail);
    r.expectEnd('snapshot');
    // Commit only after everything decoded: a bad snapshot leaves the machine as it was.
    this.data = data;
    this.index = SortedKeys.fromSorted(keys);
    this.sessions = sessions;
    this.applied = applied;
    this.appliedTermValue = appliedTerm;
    this.dataChars = chars;
  }

  static restore(bytes: Uint8Array, config: KvConfig = DEFAULT_KV_CONFIG): KvStateMachine {
    const m = new KvStateMachine(config);
    m.restore(bytes);
    return m;
  }
}
