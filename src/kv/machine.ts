// The replicated key-value state machine: applies committed entries in log order, answers reads
// from memory, and snapshots/restores itself (with client sessions) in a compact binary form.
//
// Determinism: the state after applying entries 1..n depends only on those entries and the
// SessionConfig (which must be the same on every replica). A malformed entry yields an 'invalid'
// result and changes nothing but appliedIndex — the apply loop never stops on bad bytes.
//
// Revisions (issue 14): the store has one revision, bumped by one for every applied command that
// changes at least one key (a put, a delete that deleted, a cas that swapped, a transaction that
// wrote); every key changed by that command gets it as its mod revision. A command that changes
// nothing leaves the revision as it is. Like everything here, a pure function of the log.
//
// Memory: one immutable KeyRecord (value + create/mod revision + version) per key in one Map, plus
// one pointer per key in the sorted index (sorted-keys.ts). Nothing else per key.
//
// Snapshots: snapshot.ts (binary, sorted keys, sessions included, CRC32).
import { EntryType, type Entry } from '../raft/types.ts';
import { ByteWriter } from '../util/bytes.ts';
import { CommandDecodeError, decodeCommand, type Command, type TxnCommand } from './command.ts';
import type { ApplyResult, KeyValue, TxnOpResult } from './result.ts';
import { DEFAULT_SESSION_CONFIG, SessionTable, validateSessionConfig, type SessionConfig } from './sessions.ts';
import {
  decodeSnapshot,
  encodeSnapshot,
  KeyRecord,
  runAsync,
  runSync,
  SnapshotDecodeError,
  type DecodedState,
  type FrozenState,
} from './snapshot.ts';
import { MembershipTable } from './members.ts';
import { ConfDecodeError } from '../raft/confchange.ts';
import { SortedKeys } from './sorted-keys.ts';
import { compareHolds, type TxnOp } from './txn.ts';
import { TtlTable, type TtlGrant } from './ttl.ts';

export type { ApplyResult, KeyValue, TxnOpResult } from './result.ts';

/**
 * One key's change, as watchers see it. A delete's `kv` has the key, an empty value, zero create
 * revision and version, and the deleting revision as mod revision (etcd's tombstone). `prev`: the
 * key before the change (absent if it did not exist).
 */
export interface ChangeEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prev?: KeyValue;
}

/** Told, synchronously inside apply(), of every command that changed keys: all its events, one revision. */
export type ChangeObserver = (revision: number, events: readonly ChangeEvent[]) => void;

/** A result before its revision is known. */
type Unrevisioned<T = ApplyResult> = T extends { readonly revision: number } ? Omit<T, 'revision'> : never;

const ABSENT = { value: undefined, version: 0, create: 0, mod: 0 } as const;

function toKv(key: string, r: KeyRecord): KeyValue {
  return { key, value: r.value, create: r.create, mod: r.mod, version: r.version };
}

export interface KvConfig {
  readonly sessions: SessionConfig;
}

export const DEFAULT_KV_CONFIG: KvConfig = { sessions: DEFAULT_SESSION_CONFIG };

export { SnapshotDecodeError } from './snapshot.ts';

export class KvStateMachine {
  private data = new Map<string, KeyRecord>();
  private index = new SortedKeys();
  private sessions: SessionTable;
  private applied = 0;
  private appliedTermValue = 0;
  /** Sum of key.length + value.length over all keys (UTF-16 code units; ≈ bytes for ASCII). */
  private dataChars = 0;
  private restoring = false;
  /**
   * One per running snapshotAsync (the periodic snapshot and a backup may overlap): the record each
   * key had at that snapshot's start, saved before its first change.
   */
  private readonly cows = new Set<Map<string, KeyRecord>>();
  private rev = 0;
  private compactRev = 0;
  /** The revision the command being applied writes at (rev + 1), and what it changed so far. */
  private pendingRev = 0;
  private pendingEvents: ChangeEvent[] | null = null;
  private wrote = false;
  /** See ChangeObserver; set by the host (watch). */
  observer: ChangeObserver | null = null;
  /** Where the members added by ConfChange entries are, and the removed ids (members.ts). */
  private membersTable = new MembershipTable();
  private ttls = new TtlTable();
  /** Told when a TTL grant is made or ends (the leader's countdowns, server/ttl-countdowns.ts). */
  /** Told the compact revision after a compaction is applied (watch history, server/watch/hub.ts). */
  compactObserver: ((revision: number) => void) | null = null;
  ttlObserver: ((e: { kind: 'granted'; id: number; ttlMs: number } | { kind: 'ended'; id: number }) => void) | null =
    null;

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

  /** The store's revision: that of the last command that changed a key (0: none yet). */
  get revision(): number {
    return this.rev;
  }

  /** History before this revision is gone (watch and past reads start after it). */
  get compactRevision(): number {
    return this.compactRev;
  }

  /** The TTL grants that exist (id, ttlMs). */
  ttlGrants(): TtlGrant[] {
    return this.ttls.list();
  }

  ttlOf(id: number): number | undefined {
    return this.ttls.ttlOf(id);
  }

  /** The TTL grant a key is attached to, if any. */
  ttlOfKey(key: string): number | undefined {
    return this.ttls.grantOf(key);
  }

  get size(): number {
    return this.data.size;
  }

  get approxBytes(): number {
    return this.dataChars;
  }

  get members(): MembershipTable {
    return this.membersTable;
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
    if (entry.type === EntryType.ConfChange) {
      // A malformed change is no change (the core treats it so too).
      try {
        this.membersTable.applyEntry(entry.index, entry.data);
      } catch (e) {
        if (!(e instanceof ConfDecodeError)) throw e;
      }
      return null;
    }
    if (entry.type !== EntryType.Normal) return null;
    let cmd: Command;
    try {
      cmd = decodeCommand(entry.data);
    } catch (e) {
      if (e instanceof CommandDecodeError) return { op: 'invalid', reason: e.message };
      throw e;
    }
    if (cmd.session === undefined) return this.execute(cmd, entry.index);
    const check = this.sessions.check(cmd.session, entry.index);
    if (check.kind === 'answer') return check.result;
    const result = this.execute(cmd, entry.index);
    this.sessions.record(cmd.session, entry.index, result);
    return result;
  }

  /** Runs one command: its writes share revision rev + 1, which becomes current if any happened. */
  private execute(cmd: Command, index: number): ApplyResult {
    this.pendingRev = this.rev + 1;
    this.wrote = false;
    this.pendingEvents = this.observer === null ? null : [];
    const out = this.run(cmd, index);
    if (this.wrote) {
      this.rev = this.pendingRev;
      if (this.pendingEvents !== null && this.observer !== null) this.observer(this.rev, this.pendingEvents);
    }
    this.pendingEvents = null;
    return { ...out, revision: this.rev } as ApplyResult;
  }

  private run(cmd: Command, index: number): Unrevisioned {
    switch (cmd.op) {
      case 'txn':
        return this.runTxn(cmd);
      case 'ttl-grant':
        // The id is the entry's index: unique, and the same on every replica.
        this.ttls.grant(index, cmd.ttlMs);
        this.ttlObserver?.({ kind: 'granted', id: index, ttlMs: cmd.ttlMs });
        return { op: 'ttl-grant', id: index, ttlMs: cmd.ttlMs };
      case 'ttl-revoke':
      case 'ttl-expire': {
        const keys = this.ttls.end(cmd.id);
        if (keys === null) return { op: cmd.op, found: false };
        for (const k of keys) this.remove(k, this.data.get(k));
        this.ttlObserver?.({ kind: 'ended', id: cmd.id });
        return { op: cmd.op, found: true };
      }
      case 'compact':
        this.compactRev = Math.max(this.compactRev, Math.min(cmd.revision, this.rev));
        this.compactObserver?.(this.compactRev);
        return { op: 'compact', compactRevision: this.compactRev };
      default:
        return this.runKeyed(cmd);
    }
  }

  private runKeyed(cmd: Extract<Command, { op: 'put' | 'delete' | 'cas' }>): Unrevisioned {
    const prev = this.data.get(cmd.key);
    switch (cmd.op) {
      case 'put':
        if (cmd.ttl !== undefined && !this.ttls.has(cmd.ttl)) return { op: 'ttl-not-found', id: cmd.ttl };
        this.put(cmd.key, prev, cmd.value, cmd.ttl);
        return prev === undefined ? { op: 'put' } : { op: 'put', prev: prev.value };
      case 'delete':
        return { op: 'delete', deleted: this.remove(cmd.key, prev) };
      case 'cas': {
        const matches = cmd.expected === null ? prev === undefined : prev?.value === cmd.expected;
        if (!matches)
          return prev === undefined
            ? { op: 'cas', swapped: false }
            : { op: 'cas', swapped: false, current: prev.value };
        this.put(cmd.key, prev, cmd.value);
        return { op: 'cas', swapped: true };
      }
    }
  }

  /** Compares see the state before the transaction; its operations run in order, each seeing the ones before. */
  private runTxn(cmd: TxnCommand): Unrevisioned {
    const succeeded = cmd.compares.every((c) => compareHolds(c, this.data.get(c.key) ?? ABSENT));
    const results = (succeeded ? cmd.success : cmd.failure).map((o) => this.runOp(o));
    return { op: 'txn', succeeded, results };
  }

  private runOp(o: TxnOp): TxnOpResult {
    switch (o.op) {
      case 'put':
        this.put(o.key, this.data.get(o.key), o.value);
        return { op: 'put' };
      case 'delete':
        return { op: 'delete', deleted: this.remove(o.key, this.data.get(o.key)) };
      case 'get': {
        const r = this.data.get(o.key);
        return r === undefined ? { op: 'get' } : { op: 'get', kv: toKv(o.key, r) };
      }
      case 'range': {
        const rows = this.rangeKvs(o.prefix, o.limit + 1);
        return { op: 'range', kvs: rows.slice(0, o.limit), more: rows.length > o.limit };
      }
    }
  }

  /** Copy-on-write for a running snapshotAsync (keys absent at its start are not in its view). */
  private saveForSnapshot(key: string, prev: KeyRecord): void {
    if (this.cows.size === 0) return;
    for (const cow of this.cows) if (!cow.has(key)) cow.set(key, prev);
  }

  /** Every write of a key sets its TTL grant: `ttl`, or none (as etcd: a put without a lease detaches). */
  private put(key: string, prev: KeyRecord | undefined, value: string, ttl?: number): void {
    this.ttls.attach(key, ttl);
    const rev = this.pendingRev;
    const rec =
      prev === undefined ? new KeyRecord(value, rev, rev, 1) : new KeyRecord(value, prev.create, rev, prev.version + 1);
    if (prev !== undefined) this.saveForSnapshot(key, prev);
    if (prev === undefined) {
      this.index.insert(key);
      this.dataChars += key.length + value.length;
    } else {
      this.dataChars += value.length - prev.value.length;
    }
    this.data.set(key, rec);
    this.wrote = true;
    if (this.pendingEvents !== null) {
      const kv = toKv(key, rec);
      this.pendingEvents.push(prev === undefined ? { type: 'put', kv } : { type: 'put', kv, prev: toKv(key, prev) });
    }
  }

  private remove(key: string, prev: KeyRecord | undefined): boolean {
    if (prev === undefined) return false;
    this.ttls.attach(key, undefined);
    this.saveForSnapshot(key, prev);
    this.data.delete(key);
    this.index.delete(key);
    this.dataChars -= key.length + prev.value.length;
    this.wrote = true;
    this.pendingEvents?.push({
      type: 'delete',
      kv: { key, value: '', create: 0, mod: this.pendingRev, version: 0 },
      prev: toKv(key, prev),
    });
    return true;
  }

  get(key: string): string | undefined {
    return this.data.get(key)?.value;
  }

  /** The key with its revisions, or undefined if absent. */
  getKv(key: string): KeyValue | undefined {
    const r = this.data.get(key);
    return r === undefined ? undefined : toKv(key, r);
  }

  /** Up to `limit` keys starting with `prefix`, ascending (JS string order). */
  range(prefix: string, limit: number): { key: string; value: string }[] {
    return this.rangeKvs(prefix, limit).map((kv) => ({ key: kv.key, value: kv.value }));
  }

  /** range() with each key's revisions. */
  rangeKvs(prefix: string, limit: number): KeyValue[] {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer >= 0: ${limit}`);
    const out: KeyValue[] = [];
    if (limit === 0) return out;
    for (const key of this.index.from(prefix)) {
      if (!key.startsWith(prefix)) break;
      out.push(toKv(key, this.data.get(key) as KeyRecord));
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
    const cow = new Map<string, KeyRecord>();
    const frozen = this.freeze(this.index.copyBlocks(), cow);
    this.cows.add(cow);
    try {
      return await runAsync(encodeSnapshot(frozen));
    } finally {
      this.cows.delete(cow);
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

  private freeze(blocks: readonly (readonly string[])[], cow: Map<string, KeyRecord> | null): FrozenState {
    const data = this.data; // restore() swaps in a new Map and never mutates this one
    const valueOf =
      cow === null ? (k: string) => data.get(k) as KeyRecord : (k: string) => cow.get(k) ?? (data.get(k) as KeyRecord);
    const w = new ByteWriter(1024);
    this.sessions.write(w);
    const tw = new ByteWriter(256);
    this.ttls.write(tw);
    return {
      applied: this.applied,
      appliedTerm: this.appliedTermValue,
      revision: this.rev,
      compactRevision: this.compactRev,
      keyCount: data.size,
      blocks,
      valueOf,
      sessionBytes: w.finish(),
      memberBytes: this.membersTable.encode(),
      ttlBytes: tw.finish(),
    };
  }

  private install(d: DecodedState): void {
    const members = new MembershipTable();
    try {
      members.restore(d.memberBytes);
    } catch (e) {
      throw new SnapshotDecodeError(`snapshot membership section: ${(e as Error).message}`);
    }
    this.membersTable = members;
    this.data = d.data;
    this.index = SortedKeys.fromSorted(d.keys);
    this.sessions = d.sessions;
    this.ttls = d.ttls;
    this.applied = d.applied;
    this.appliedTermValue = d.appliedTerm;
    this.rev = d.revision;
    this.compactRev = d.compactRevision;
    this.dataChars = d.chars;
  }

  static restore(bytes: Uint8Array, config: KvConfig = DEFAULT_KV_CONFIG): KvStateMachine {
    const m = new KvStateMachine(config);
    m.restore(bytes);
    return m;
  }
}
