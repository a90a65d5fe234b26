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
// Snapshots: snapshot.ts (binary, sorted keys, sessions included, CRC32).
import { EntryType, type Entry } from '../raft/types.ts';
import { ByteWriter } from '../util/bytes.ts';
import { CommandDecodeError, decodeCommand, type Command } from './command.ts';
import type { ApplyResult } from './result.ts';
import { DEFAULT_SESSION_CONFIG, SessionTable, validateSessionConfig, type SessionConfig } from './sessions.ts';
import { decodeSnapshot, encodeSnapshot, runAsync, runSync, type DecodedState, type FrozenState } from './snapshot.ts';
import { SortedKeys } from './sorted-keys.ts';

export type { ApplyResult } from './result.ts';

export interface KvConfig {
  readonly sessions: SessionConfig;
}

export const DEFAULT_KV_CONFIG: KvConfig = { sessions: DEFAULT_SESSION_CONFIG };

export { SnapshotDecodeError } from './snapshot.ts';

export class KvStateMachine {
  private data = new Map<string, string>();
  private index = new SortedKeys();
  private sessions: SessionTable;
  private applied = 0;
  private appliedTermValue = 0;
  /** Sum of key.length + value.length over all keys (UTF-16 code units; ≈ bytes for ASCII). */
  private dataChars = 0;
  private restoring = false;
  /** While snapshotAsync runs: the value each key had at its start, saved before the first change. */
  private cow: Map<string, string> | null = null;

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
    if (this.restoring) throw new Error('apply during restoreAsync');
    if (entry.index !== this.applied + 1) {
      throw new Error(`apply out of order: got index ${entry.index}, applied ${this.applied}`);
    }
    this.applied = entry.index;
    this.appliedTermValue = entry.term;
    this.sessions.expire(entry.index);
    // Noop and ConfChange entries change nothing here (membership is the host's business).
    if (entry.type !== EntryType.Normal) return null;
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
        this.saveForSnapshot(cmd.key, prev);
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

  /** Copy-on-write for a running snapshotAsync (keys absent at its start are not in its view). */
  private saveForSnapshot(key: string, prev: string): void {
    if (this.cow !== null && !this.cow.has(key)) this.cow.set(key, prev);
  }

  private set(key: string, prev: string | undefined, value: string): void {
    if (prev !== undefined) this.saveForSnapshot(key, prev);
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

  /** The whole state (data, sessions, applied index/term) as compact bytes (layout: snapshot.ts). */
  snapshot(): Uint8Array {
    return runSync(encodeSnapshot(this.freeze(this.index.blocksView(), null)));
  }

  /**
   * Same bytes as snapshot(), but yields to the event loop between slices of keys, and apply() may
   * go on meanwhile: the key order is copied up front (one pointer per key) and every value changed
   * during the encoding is saved first (copy-on-write), so the result is the state at the call.
   */
  async snapshotAsync(): Promise<Uint8Array> {
    if (this.cow !== null) throw new Error('snapshotAsync already in progress');
    const cow = new Map<string, string>();
    const frozen = this.freeze(this.index.copyBlocks(), cow);
    this.cow = cow;
    try {
      return await runAsync(encodeSnapshot(frozen));
    } finally {
      this.cow = null;
    }
  }

  /** Replaces the whole state with a snapshot's. Throws SnapshotDecodeError on bad bytes (state unchanged). */
  restore(bytes: Uint8Array): void {
    this.install(runSync(decodeSnapshot(bytes, this.config.sessions)));
  }

  /**
   * restore() that yields to the event loop between slices. The old state stays readable until the
   * new one is swapped in at the end; apply() must not be called meanwhile (asserted).
   */
  async restoreAsync(bytes: Uint8Array): Promise<void> {
    if (this.restoring) throw new Error('restoreAsync already in progress');
    this.restoring = true;
    try {
      this.install(await runAsync(decodeSnapshot(bytes, this.config.sessions)));
    } finally {
      this.restoring = false;
    }
  }

  private freeze(blocks: readonly (readonly string[])[], cow: Map<string, string> | null): FrozenState {
    const data = this.data; // restore() swaps in a new Map and never mutates this one
    const valueOf = cow === null ? (k: string) => data.get(k) as string : (k: string) => cow.get(k) ?? (data.get(k) as string);
    const w = new ByteWriter(1024);
    this.sessions.write(w);
    return { applied: this.applied, appliedTerm: this.appliedTermValue, keyCount: data.size, blocks, valueOf, sessionBytes: w.finish() };
  }

  private install(d: DecodedState): void {
    this.data = d.data;
    this.index = SortedKeys.fromSorted(d.keys);
    this.sessions = d.sessions;
    this.applied = d.applied;
    this.appliedTermValue = d.appliedTerm;
    this.dataChars = d.chars;
  }

  static restore(bytes: Uint8Array, config: KvConfig = DEFAULT_KV_CONFIG): KvStateMachine {
    const m = new KvStateMachine(config);
    m.restore(bytes);
    return m;
  }
}
