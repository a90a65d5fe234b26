// The key-value state machine's state and its reads, snapshot and restore (machine.ts applies
// entries to it). Keys, values and revisions live in the compact store (store.ts); sessions,
// membership and TTL grants beside it; all of it goes into a snapshot (snapshot.ts).
import type { KeyValue } from './result.ts';
import { DEFAULT_SESSION_CONFIG, SessionTable, validateSessionConfig, type SessionConfig } from './sessions.ts';
import { ByteWriter } from '../util/bytes.ts';
import {
  decodeSnapshot,
  encodedSnapshot,
  encodeSnapshot,
  runAsync,
  runSync,
  SnapshotDecodeError,
  type DecodedState,
  type FrozenState,
  type SnapshotPieces,
} from './snapshot.ts';
import { MembershipTable } from './members.ts';
import { SnapshotFeed } from './snapshot-feed.ts';

/** Bytes read and decoded per step when restoring from pieces: about KEYS_PER_STEP keys (snapshot.ts). */
export const RESTORE_PIECE_BYTES = 2 << 20;
import { AuthTable } from './auth.ts';
import { rangeAnswer, type RangeAnswer, type RangeQuery } from './range.ts';
import { KeyStore, type KeyRecord, type StoreView } from './store.ts';
import { TtlTable, type TtlGrant } from './ttl.ts';

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

export function toKv(key: string, r: KeyRecord): KeyValue {
  return { key, value: r.value, create: r.create, mod: r.mod, version: r.version };
}

export interface KvConfig {
  readonly sessions: SessionConfig;
}

export const DEFAULT_KV_CONFIG: KvConfig = { sessions: DEFAULT_SESSION_CONFIG };

export abstract class KvState {
  protected data = new KeyStore();
  protected sessions: SessionTable;
  protected applied = 0;
  protected appliedTermValue = 0;
  protected restoring = false;
  /** Bytes of entry data applied since this object was made (not replicated state: a counter for the host's snapshot policy). */
  protected appliedDataBytes = 0;
  protected rev = 0;
  protected compactRev = 0;
  /** See ChangeObserver; set by the host (watch). */
  observer: ChangeObserver | null = null;
  /** Where the members added by ConfChange entries are, and the removed ids (members.ts). */
  protected membersTable = new MembershipTable();
  protected ttls = new TtlTable();
  /** Users and roles (auth.ts). */
  protected authTable = new AuthTable();
  /** Told the compact revision after a compaction is applied (watch history, kv/watch-hub.ts). */
  compactObserver: ((revision: number) => void) | null = null;
  /** Told when a TTL grant is made or ends (the leader's countdowns, host/ttl-countdowns.ts). */
  ttlObserver: ((e: { kind: 'granted'; id: number; ttlMs: number } | { kind: 'ended'; id: number }) => void) | null =
    null;

  constructor(protected readonly config: KvConfig = DEFAULT_KV_CONFIG) {
    validateSessionConfig(config.sessions);
    this.sessions = new SessionTable(config.sessions);
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** Bytes of entry data applied by this process so far (snapshots are also taken by bytes, so the log in memory stays bounded). */
  get appliedEntryBytes(): number {
    return this.appliedDataBytes;
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

  /** Keys and values, in UTF-8 bytes. */
  get approxBytes(): number {
    return this.data.bytes;
  }

  get members(): MembershipTable {
    return this.membersTable;
  }

  get auth(): AuthTable {
    return this.authTable;
  }

  /** Keys attached to TTL grant `id` and their UTF-8 bytes with their values (undefined: no such grant). */
  ttlAttached(id: number): { keys: number; bytes: number } | undefined {
    return this.ttls.attached(id);
  }

  /** The keys attached to TTL grant `id`. */
  ttlKeys(id: number): string[] {
    return this.ttls.keysOf(id);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get(key: string): string | undefined {
    return this.data.get(key)?.value;
  }

  /** The key with its revisions, or undefined if absent. */
  getKv(key: string): KeyValue | undefined {
    const r = this.data.get(key);
    return r === undefined ? undefined : toKv(key, r);
  }

  /** Up to `limit` keys starting with `prefix`, ascending (UTF-8 byte order). */
  range(prefix: string, limit: number): { key: string; value: string }[] {
    return this.rangeKvs(prefix, limit).map((kv) => ({ key: kv.key, value: kv.value }));
  }

  /** range() with each key's revisions. */
  rangeKvs(prefix: string, limit: number): KeyValue[] {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer >= 0: ${limit}`);
    const out: KeyValue[] = [];
    if (limit === 0) return out;
    for (const [key, r] of this.data.from(prefix)) {
      if (!key.startsWith(prefix)) break;
      out.push(toKv(key, r));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** A Range's answer under a byte cap (range.ts); `changed`: keys as they were at a past revision. */
  rangeAnswer(q: RangeQuery, changed?: ReadonlyMap<string, KeyValue | null>): RangeAnswer {
    return rangeAnswer(this.data, q, changed);
  }

  /** The whole state (data, sessions, applied index/term) as compact bytes (layout: snapshot.ts). */
  snapshot(): Uint8Array {
    return runSync(encodeSnapshot(this.freeze(this.data.peek())));
  }

  /**
   * Same bytes as snapshot(), but yields to the event loop between slices of keys, and apply() may
   * go on meanwhile: the store's pages are frozen (a write copies a frozen page first), so the
   * result is the state at the call.
   */
  async snapshotAsync(): Promise<Uint8Array> {
    const data = this.data; // restore() swaps in a new store and never mutates this one
    const view = data.freeze();
    try {
      return await runAsync(encodeSnapshot(this.freeze(view)));
    } finally {
      data.release(view);
    }
  }

  /**
   * The snapshot's bytes a batch at a time (issue 16), for writing to a file without a buffer of the
   * snapshot's size: the state at the call (the store's pages are frozen, copy-on-write, until
   * release()). Batches are views of the pages: each stays valid until release().
   */
  snapshotPieces(): SnapshotPieces {
    const data = this.data; // restore() swaps in a new store and never mutates this one
    const view = data.freeze();
    const enc = encodedSnapshot(this.freeze(view));
    let released = false;
    return {
      totalBytes: enc.totalBytes,
      next: () => {
        if (released) throw new Error('snapshotPieces: read after release');
        const r = enc.batches.next();
        return r.done === true ? null : r.value;
      },
      release: () => {
        if (released) return;
        released = true;
        data.release(view);
      },
    };
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

  /**
   * restoreAsync from bytes read a piece at a time (issue 16: a received snapshot's spool file),
   * never one buffer of the snapshot's size; `read` gives `bytes` bytes at `offset` (at most
   * RESTORE_PIECE_BYTES). Nothing keeps a piece once the next is asked for (the feed copies what it
   * keeps), so `read` may fill the same buffer every time: a restart's load reads the whole
   * snapshot file through one 2 MiB buffer (issue 16). The event loop turns between pieces (each
   * read is asynchronous).
   */
  async restoreFromPieces(
    totalBytes: number,
    read: (offset: number, bytes: number) => Promise<Uint8Array>,
  ): Promise<void> {
    if (this.restoring) throw new Error('restoreAsync already in progress');
    this.restoring = true;
    try {
      const feed = new SnapshotFeed(this.config.sessions);
      for (let at = 0; at < totalBytes; at += RESTORE_PIECE_BYTES)
        feed.feed(await read(at, Math.min(RESTORE_PIECE_BYTES, totalBytes - at)));
      this.install(feed.finish());
    } finally {
      this.restoring = false;
    }
  }

  protected freeze(view: StoreView): FrozenState {
    const w = new ByteWriter(1024);
    this.sessions.write(w);
    const tw = new ByteWriter(256);
    this.ttls.write(tw);
    return {
      applied: this.applied,
      appliedTerm: this.appliedTermValue,
      revision: this.rev,
      compactRevision: this.compactRev,
      view,
      sessionBytes: w.finish(),
      memberBytes: this.membersTable.encode(),
      ttlBytes: tw.finish(),
      authBytes: this.authTable.encode(),
    };
  }

  protected install(d: DecodedState): void {
    const members = new MembershipTable();
    try {
      members.restore(d.memberBytes);
    } catch (e) {
      throw new SnapshotDecodeError(`snapshot membership section: ${(e as Error).message}`);
    }
    const auth = new AuthTable();
    try {
      auth.restore(d.authBytes);
    } catch (e) {
      throw new SnapshotDecodeError(`snapshot auth section: ${(e as Error).message}`);
    }
    this.membersTable = members;
    this.authTable = auth;
    this.data = d.store;
    this.sessions = d.sessions;
    this.ttls = d.ttls;
    this.applied = d.applied;
    this.appliedTermValue = d.appliedTerm;
    this.rev = d.revision;
    this.compactRev = d.compactRevision;
  }
}
