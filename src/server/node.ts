// A leasekv node (docs/design.md): the client API (KvBackend) over the node's drive loop
// (src/host, wired by node-drive.ts), membership and status (node-membership.ts).

import type { Command } from '../kv/command.ts';
import { TtlNotFoundError, FutureRevisionError, UnavailableError } from './backend.ts';
import type {
  CasRequest,
  CasResult,
  DeleteRequest,
  DeleteResult,
  GetRequest,
  GetResult,
  KvBackend,
  PutRequest,
  PutResult,
  RangeRequest,
  RangeResult,
  ReadMode,
  SessionRef,
  TxnRequest,
  TxnResult,
  TtlGrantRequest,
  TtlGrantResult,
  TtlRevokeRequest,
  TtlRevokeResult,
} from './backend.ts';
import { CompactedError, type Watcher, type WatchRequest } from './watch/hub.ts';
import type { KeyValue } from '../kv/result.ts';
import { AnswerTooLargeError, checkTxnAnswer, txnAnswerBytes } from '../kv/range.ts';
import { NodeWrites } from './node-writes.ts';
import { TtlRoom } from './ttl-room.ts';
import { checkResult } from './apply-errors.ts';
import { SCAN_BUDGET_MS_PER_TURN, ScanTurns } from './scan-turns.ts';
import { withDeadline } from './deadline.ts';
import { assert } from '../util/assert.ts';
import type { AuthChange, AuthTable } from '../kv/auth.ts';
import { AuthRefusedError, type AuthBackend } from './auth/backend.ts';

export { VERSION, raftConfigFor } from './node-drive.ts';
export type { RestoredState } from './node-drive.ts';

export class LeaseKvNode extends NodeWrites implements KvBackend, AuthBackend {
  private readonly ttlRoom = new TtlRoom(this.cfg.ttl, this.kv);
  private readonly scans = new ScanTurns(SCAN_BUDGET_MS_PER_TURN);
  authTable(): AuthTable {
    return this.kv.auth;
  }

  /** A change to users and roles (issue 15), through the log like a write. */
  authChange(change: AuthChange, signal: AbortSignal): Promise<{ index: number }> {
    return this.track('Auth', 'write', async () => {
      const { result, index } = await this.propose({ op: 'auth', change }, signal);
      checkResult(result);
      assert(result.op === 'auth', () => `auth applied as ${result.op}`);
      if (result.refused !== undefined) throw new AuthRefusedError(result.refused);
      return { index };
    });
  }

  watch(req: WatchRequest): Watcher {
    if (this.stopped) throw new UnavailableError('node is stopping');
    return this.watchHub.watch(req);
  }

  // ---- the client API (KvBackend) ---------------------------------------------------------------

  /**
   * Admission, in-flight accounting and the 'request' event (metrics, dashboard). The event's mode is
   * how a read was served (lease, readindex, stale) when it succeeded, else what was asked for.
   */
  private async track<T>(method: string, mode: string, work: () => Promise<T>, served?: (r: T) => string): Promise<T> {
    this.admit();
    this.inFlight++;
    const t0 = this.now();
    let ok = false;
    let label = mode;
    try {
      const r = await work();
      ok = true;
      if (served !== undefined) label = served(r);
      return r;
    } finally {
      this.inFlight--;
      this.events.emit('request', method, label, this.now() - t0, ok);
    }
  }

  private session(s: SessionRef | undefined): { session?: SessionRef } {
    return s === undefined ? {} : { session: s };
  }

  put(req: PutRequest, signal: AbortSignal): Promise<PutResult> {
    return this.putWith(req, signal, undefined);
  }

  /** put() for the client API thread: no abort signal; DeadlineExceededError after timeoutMs. */
  putQuick(req: PutRequest, timeoutMs: number): Promise<PutResult> {
    return this.putWith(req, undefined, timeoutMs);
  }

  private putWith(
    req: PutRequest,
    signal: AbortSignal | undefined,
    deadlineMs: number | undefined,
  ): Promise<PutResult> {
    return this.track('Put', 'write', async () => {
      const ttl = req.ttl === undefined ? {} : { ttl: req.ttl };
      // A grant's end is one revision: the leader bounds what one grant holds (ttl-room.ts).
      const release =
        req.ttl !== undefined && this.core.role === 'leader' ? this.ttlRoom.reserve(req.ttl, req.key, req.value) : null;
      const { result, index } = await this.propose(
        { op: 'put', key: req.key, value: req.value, ...ttl, ...this.session(req.session) },
        signal,
        deadlineMs,
      ).finally(() => release?.());
      checkResult(result);
      assert(result.op === 'put', () => `put applied as ${result.op}`);
      return { index, revision: result.revision };
    });
  }

  delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult> {
    return this.track('Delete', 'write', async () => {
      const { result, index } = await this.propose(
        { op: 'delete', key: req.key, ...this.session(req.session) },
        signal,
      );
      checkResult(result);
      assert(result.op === 'delete', () => `delete applied as ${result.op}`);
      return { deleted: result.deleted, index, revision: result.revision };
    });
  }

  compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult> {
    return this.track('CompareAndSwap', 'write', async () => {
      const cmd: Command = {
        op: 'cas',
        key: req.key,
        expected: req.expected,
        value: req.value,
        ...this.session(req.session),
      };
      const { result, index } = await this.propose(cmd, signal);
      checkResult(result);
      assert(result.op === 'cas', () => `cas applied as ${result.op}`);
      return {
        swapped: result.swapped,
        index,
        revision: result.revision,
        ...(result.current === undefined ? {} : { current: result.current }),
      };
    });
  }

  ttlGrant(req: TtlGrantRequest, signal: AbortSignal): Promise<TtlGrantResult> {
    return this.track('TtlGrant', 'write', async () => {
      const { result, index } = await this.propose(
        { op: 'ttl-grant', ttlMs: req.ttlMs, ...this.session(req.session) },
        signal,
      );
      checkResult(result);
      assert(result.op === 'ttl-grant', () => `ttl-grant applied as ${result.op}`);
      // Answered as a keep-alive is: the grant may have applied here long after the leader that
      // counts it did (this node was paused or cut off), and its countdown started then.
      await this.restartCountdown(result.id, signal);
      return { id: result.id, ttlMs: result.ttlMs, index, revision: result.revision };
    });
  }

  ttlRevoke(req: TtlRevokeRequest, signal: AbortSignal): Promise<TtlRevokeResult> {
    return this.track('TtlRevoke', 'write', async () => {
      const { result, index } = await this.propose(
        { op: 'ttl-revoke', id: req.id, ...this.session(req.session) },
        signal,
      );
      checkResult(result);
      assert(result.op === 'ttl-revoke', () => `ttl-revoke applied as ${result.op}`);
      return { found: result.found, index, revision: result.revision };
    });
  }

  ttlKeys(id: number): readonly string[] {
    return this.kv.ttlKeys(id);
  }

  /**
   * Restarts a grant's countdown. Only a leader that has confirmed its leadership (a lease read or
   * a ReadIndex round) and is counting answers: a deposed leader's answer would promise time the
   * new leader does not know about.
   */
  ttlKeepAlive(id: number, signal: AbortSignal): Promise<{ id: number; ttlMs: number }> {
    return this.track('TtlKeepAlive', 'linearizable', async () => ({
      id,
      ttlMs: await this.restartCountdown(id, signal),
    }));
  }

  /** Confirms leadership, then restarts grant `id`'s countdown in full; its TTL. */
  private async restartCountdown(id: number, signal: AbortSignal): Promise<number> {
    await this.barrier('linearizable', signal);
    if (!this.ttlCountdowns.active)
      throw new UnavailableError(
        "the leader has not started its TTL countdowns yet (it waits for the previous leader's lease); retry",
      );
    const ttlMs = this.kv.ttlOf(id);
    // Refused also while the grant's expire is proposed: it may still commit (ttl-countdowns.ts).
    if (ttlMs === undefined || !this.ttlCountdowns.keepAlive(id, ttlMs, this.now())) throw new TtlNotFoundError(id);
    return ttlMs;
  }

  txn(req: TxnRequest, signal: AbortSignal): Promise<TxnResult> {
    return this.track('Txn', 'write', async () => {
      const cmd: Command = {
        op: 'txn',
        compares: req.compares,
        success: req.success,
        failure: req.failure,
        ...this.session(req.session),
      };
      // Refused before proposing when its answer would pass the cap now (kv/range.ts) …
      if (this.core.role === 'leader') checkTxnAnswer(this.kv, req, req.maxBytes);
      const { result, index } = await this.propose(cmd, signal);
      checkResult(result);
      assert(result.op === 'txn', () => `txn applied as ${result.op}`);
      // … and after it, when the state changed meanwhile: the writes stand, the answer is refused.
      const bytes = txnAnswerBytes(result.results);
      if (bytes > req.maxBytes) throw new AnswerTooLargeError(bytes, req.maxBytes, 0, result.revision);
      return { succeeded: result.succeeded, results: result.results, index, revision: result.revision };
    });
  }

  /**
   * Waits until this node may answer a read consistently and returns how: a lease read (leader with
   * a valid lease at the time of serving, current-term entry committed), a ReadIndex round, or a
   * stale read from local state.
   */
  private async barrier(consistency: 'linearizable' | 'stale', signal: AbortSignal): Promise<ReadMode> {
    if (consistency === 'stale') return 'stale';
    return withDeadline(
      new Promise<ReadMode>((resolve, reject) =>
        this.readBarrier((err, mode) => (err === null ? resolve(mode) : reject(err))),
      ),
      this.cfg.requestTimeoutMs,
      signal,
      () => new UnavailableError('read timed out waiting for a majority to confirm leadership'),
    );
  }

  private staleByMs(mode: ReadMode): number {
    if (mode !== 'stale') return 0;
    const st = this.core.status(this.now());
    if (st.role === 'leader' && st.leaseHeld) return 0;
    // Never heard from a leader: unknown staleness, Infinity (the API clamps it to the u32 maximum;
    // it used to be -1, which the API clamped to 0, i.e. "perfectly fresh").
    return Math.round(this.now() - this.lastHeardFromLeaderMs);
  }

  get(req: GetRequest, signal: AbortSignal): Promise<GetResult> {
    return this.track(
      'Get',
      req.consistency,
      async () => {
        const readMode = await this.barrier(req.consistency, signal);
        return this.getResult(req.key, readMode);
      },
      (g) => g.readMode,
    );
  }

  private getResult(key: string, readMode: ReadMode): GetResult {
    const kv = this.kv.getKv(key);
    return {
      found: kv !== undefined,
      value: kv?.value ?? '',
      index: this.kv.appliedIndex,
      readMode,
      staleByMs: this.staleByMs(readMode),
      revision: this.kv.revision,
      createRevision: kv?.create ?? 0,
      modRevision: kv?.mod ?? 0,
      version: kv?.version ?? 0,
    };
  }

  getNow(req: GetRequest): GetResult | null {
    if (this.stopped) return null;
    let readMode: ReadMode = 'stale';
    if (req.consistency === 'linearizable') {
      // Lease checked at the time of serving (docs/lease-notes.md case 2), not at the last tick.
      const leaseIndex = this.leaseReadIndex();
      if (leaseIndex === null || this.kv.appliedIndex < leaseIndex) return null;
      readMode = 'lease';
    }
    this.events.emit('request', 'Get', readMode, 0, true);
    return this.getResult(req.key, readMode);
  }

  range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult> {
    return this.track('Range', req.consistency, async () => {
      await this.barrier(req.consistency, signal);
      // In turns, so that many scans cannot hold this thread (the lease's) at once; none once answered.
      return this.scans.run(() => {
        signal.throwIfAborted();
        const changed =
          req.revision !== undefined && req.revision !== this.kv.revision
            ? this.changedSince(req.revision, req.prefix)
            : undefined;
        const { kvs, more, count } = this.kv.rangeAnswer(req, changed);
        const at = { index: this.kv.appliedIndex, revision: req.revision ?? this.kv.revision };
        return count === undefined ? { kvs, more, ...at } : { kvs, more, count, ...at };
      });
    });
  }

  /**
   * For a Range at a past revision: every key under `prefix` changed after `at`, as it was then
   * (null: absent then), from this member's change history; kv/range.ts puts them back over the
   * current state.
   */
  private changedSince(at: number, prefix: string): ReadonlyMap<string, KeyValue | null> {
    const current = this.kv.revision;
    if (at > current)
      throw new FutureRevisionError(`revision ${at} is in the future (the current revision is ${current})`);
    const oldest = Math.max(this.watchHub.oldest - 1, this.kv.compactRevision);
    const changed = at < oldest ? null : this.watchHub.changesAfter(at, prefix);
    if (changed === null) throw new CompactedError(at, Math.max(oldest, this.kv.compactRevision));
    return changed;
  }

  compact(
    req: { revision: number; session?: SessionRef },
    signal: AbortSignal,
  ): Promise<{ compactRevision: number; index: number; revision: number }> {
    return this.track('Compact', 'write', async () => {
      // The state machine clamps a revision past its own (kv/machine.ts): a typo would compact all
      // history. Refused on the leader (as etcd does); a follower answers "not leader" as before.
      const current = this.kv.revision;
      if (req.revision > current && this.core.status(this.now()).role === 'leader')
        throw new FutureRevisionError(`revision ${req.revision} is in the future (the current revision is ${current})`);
      const { result, index } = await this.propose(
        { op: 'compact', revision: req.revision, ...this.session(req.session) },
        signal,
      );
      checkResult(result);
      assert(result.op === 'compact', () => `compact applied as ${result.op}`);
      return { compactRevision: result.compactRevision, index, revision: result.revision };
    });
  }

  /**
   * The whole state for `leasekv snapshot save`, at a linearizable point: on the leader, after a lease
   * read or a ReadIndex round, so it holds every write acknowledged before the call. Encoded in
   * slices, copy-on-write, while the node goes on serving (docs/storage.md, "Backup file").
   */
  backup(signal: AbortSignal): Promise<BackupState> {
    return this.track('Backup', 'linearizable', async () => {
      await this.barrier('linearizable', signal);
      // Read in the same turn as snapshotAsync freezes the state: the data is at exactly this index.
      const index = this.kv.appliedIndex;
      const term = this.kv.appliedTerm;
      const keys = this.kv.size;
      const conf = this.core.confStateAt(index);
      return { index, term, keys, members: [...conf.voters, ...conf.learners], data: await this.kv.snapshotAsync() };
    });
  }
}

export interface BackupState {
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  /** The members (voters and learners) in force at `index`. */
  readonly members: readonly string[];
  /** The state machine's snapshot bytes (src/kv/snapshot.ts). */
  readonly data: Uint8Array;
}
