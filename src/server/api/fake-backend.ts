// An in-memory KvBackend for tests of the API, the client and the CLI. Not a node: one map, an
// optional "follower" mode that answers NotLeader with a hint, sessions kept per client id, and
// hooks to inject delays and failures.
import {
  NotLeaderError,
  DeadlineExceededError,
  type CasRequest,
  type CasResult,
  type DeleteRequest,
  type DeleteResult,
  type GetRequest,
  type GetResult,
  type KvBackend,
  type PutRequest,
  type PutResult,
  type RangeRequest,
  type RangeResult,
  type SessionRef,
  type StatusResult,
  type TxnOp,
  type TxnOpResult,
  type TxnRequest,
  type TxnResult,
  type KeyValue,
  type TtlGrantRequest,
  type TtlGrantResult,
  type TtlRevokeRequest,
  type TtlRevokeResult,
  TtlNotFoundError,
} from '../backend.ts';
import { compareHolds } from '../../kv/txn.ts';
import { rangeAnswer } from '../../kv/range.ts';
import { KeyStore } from '../../kv/store.ts';
import { withDeadline } from '../deadline.ts';
import {
  DEFAULT_WATCH_LIMITS,
  WatchHub,
  type ChangeEvent,
  type Watcher,
  type WatchLimits,
  type WatchRequest,
} from '../watch/hub.ts';

export interface FakeBackendOptions {
  readonly id?: string;
  /** When set, linearizable operations fail with NotLeader(leaderId, leaderClientAddr). */
  readonly followerOf?: { readonly leaderId: string; readonly leaderClientAddr: string } | undefined;
  /** Delay before each operation answers (honours the abort signal). */
  readonly delayMs?: number;
  readonly watch?: Partial<WatchLimits>;
  /**
   * Has getQuick, like the node's client API thread (api-thread/remote.ts): Gets that getNow cannot
   * answer then take the fast path's quick route (and framing.ts's) instead of get() with a signal.
   */
  readonly getQuick?: boolean;
}

type Answer = PutResult | DeleteResult | CasResult | TxnResult | TtlGrantResult | TtlRevokeResult;

interface Meta {
  create: number;
  mod: number;
  version: number;
}

export class FakeBackend implements KvBackend {
  readonly data = new Map<string, string>();
  /** Writes actually applied (a retried session write does not count twice). */
  applied = 0;
  /** Every call, for assertions: method name and the request. */
  readonly calls: { method: string; req: unknown }[] = [];
  /** Thrown (once each, in order) by the next operations, before they do anything. */
  readonly failNext: Error[] = [];
  /** Thrown (once each) by the next writes *after* they applied: a lost answer, as after a leader change. */
  readonly failAfterApply: Error[] = [];
  id: string;
  followerOf: FakeBackendOptions['followerOf'];
  delayMs: number;
  /** While set, every operation waits for it (after delayMs): requests held in flight until a test releases them. */
  hold: Promise<void> | null = null;
  #index = 0;
  /** Revisions as the state machine keeps them (a key set directly in `data` reads as revision 1). */
  #revision = 0;
  readonly #meta = new Map<string, Meta>();
  #wrote = false;
  #events: ChangeEvent[] = [];
  readonly watchHub: WatchHub;
  /** TTL grants (id → ttlMs) and their keys; a fake never expires one by itself. */
  readonly ttls = new Map<number, number>();
  readonly #ttlKeys = new Map<string, number>();
  readonly #sessions = new Map<string, { seq: number; answer: Answer }>();
  /** Like the node's (RemoteBackend.getQuick): get() bounded by the deadline, without an abort signal; only with the option. */
  readonly getQuick?: (req: GetRequest, timeoutMs: number) => Promise<GetResult>;

  constructor(opts: FakeBackendOptions = {}) {
    if (opts.getQuick === true)
      this.getQuick = (req, timeoutMs) =>
        withDeadline(
          this.get(req, new AbortController().signal),
          timeoutMs,
          undefined,
          () => new DeadlineExceededError(timeoutMs),
        );
    this.id = opts.id ?? 'n1';
    this.followerOf = opts.followerOf;
    this.delayMs = opts.delayMs ?? 0;
    this.watchHub = new WatchHub(0, { ...DEFAULT_WATCH_LIMITS, ...opts.watch });
  }

  watch(req: WatchRequest): Watcher {
    return this.watchHub.watch(req);
  }

  async #enter(method: string, req: unknown, signal: AbortSignal | undefined, needsLeader: boolean): Promise<void> {
    this.calls.push({ method, req });
    if (this.delayMs > 0) await sleep(this.delayMs, signal);
    if (this.hold !== null) await this.hold;
    const fail = this.failNext.shift();
    if (fail !== undefined) throw fail;
    if (needsLeader && this.followerOf !== undefined) {
      throw new NotLeaderError(this.followerOf.leaderId, this.followerOf.leaderClientAddr);
    }
  }

  #write<T extends Answer>(session: SessionRef | undefined, apply: () => T): T {
    if (session !== undefined) {
      const s = this.#sessions.get(session.clientId);
      if (s !== undefined && s.seq === session.seq) return s.answer as T;
    }
    this.applied++;
    this.#index++;
    this.#wrote = false;
    this.#events = [];
    const answer = apply();
    if (this.#wrote) {
      this.#revision++;
      this.watchHub.publish(this.#revision, this.#events);
    }
    if (session !== undefined) this.#sessions.set(session.clientId, { seq: session.seq, answer });
    const lost = this.failAfterApply.shift();
    if (lost !== undefined) throw lost;
    return answer;
  }

  #kv(key: string): KeyValue | undefined {
    const value = this.data.get(key);
    if (value === undefined) return undefined;
    const m = this.#meta.get(key) ?? { create: 1, mod: 1, version: 1 };
    return { key, value, create: m.create, mod: m.mod, version: m.version };
  }

  #set(key: string, value: string): void {
    const rev = this.#revision + 1;
    const old = this.data.has(key) ? this.#kv(key) : undefined;
    this.#meta.set(
      key,
      old === undefined
        ? { create: rev, mod: rev, version: 1 }
        : { create: old.create, mod: rev, version: old.version + 1 },
    );
    this.data.set(key, value);
    this.#ttlKeys.delete(key);
    this.#wrote = true;
    const kv = this.#kv(key) as KeyValue;
    this.#events.push(old === undefined ? { type: 'put', kv } : { type: 'put', kv, prev: old });
  }

  #delete(key: string): boolean {
    const prev = this.#kv(key);
    this.#ttlKeys.delete(key);
    this.#meta.delete(key);
    const deleted = this.data.delete(key);
    if (prev !== undefined) {
      this.#wrote = true;
      this.#events.push({
        type: 'delete',
        kv: { key, value: '', create: 0, mod: this.#revision + 1, version: 0 },
        prev,
      });
    }
    return deleted;
  }

  async compact(
    req: { revision: number },
    signal: AbortSignal,
  ): Promise<{ compactRevision: number; index: number; revision: number }> {
    await this.#enter('compact', req, signal, true);
    this.#index++;
    const c = Math.min(req.revision, this.#revision);
    this.watchHub.compact(c);
    return { compactRevision: c, index: this.#index, revision: this.#revision };
  }

  async ttlGrant(req: TtlGrantRequest, signal: AbortSignal): Promise<TtlGrantResult> {
    await this.#enter('ttlGrant', req, signal, true);
    return this.#write(req.session, () => {
      this.ttls.set(this.#index, req.ttlMs);
      return { id: this.#index, ttlMs: req.ttlMs, index: this.#index, revision: this.#revision };
    });
  }

  async ttlKeepAlive(id: number, signal: AbortSignal): Promise<{ id: number; ttlMs: number }> {
    await this.#enter('ttlKeepAlive', { id }, signal, true);
    const ttlMs = this.ttls.get(id);
    if (ttlMs === undefined) throw new TtlNotFoundError(id);
    return { id, ttlMs };
  }

  async ttlRevoke(req: TtlRevokeRequest, signal: AbortSignal): Promise<TtlRevokeResult> {
    await this.#enter('ttlRevoke', req, signal, true);
    return this.#write(req.session, () => {
      const found = this.ttls.delete(req.id);
      for (const [k, id] of [...this.#ttlKeys]) if (id === req.id) this.#delete(k);
      return { found, index: this.#index, revision: this.#revision + (this.#wrote ? 1 : 0) };
    });
  }

  async put(req: PutRequest, signal: AbortSignal): Promise<PutResult> {
    await this.#enter('put', req, signal, true);
    if (req.ttl !== undefined && !this.ttls.has(req.ttl)) throw new TtlNotFoundError(req.ttl);
    return this.#write(req.session, () => {
      this.#set(req.key, req.value);
      if (req.ttl !== undefined) this.#ttlKeys.set(req.key, req.ttl);
      return { index: this.#index, revision: this.#revision + 1 };
    });
  }

  /** Like the node's: put() bounded by the deadline, without an abort signal. */
  putQuick(req: PutRequest, timeoutMs: number): Promise<PutResult> {
    return withDeadline(
      this.put(req, new AbortController().signal),
      timeoutMs,
      undefined,
      () => new DeadlineExceededError(timeoutMs),
    );
  }

  #getResult(req: GetRequest): GetResult {
    const kv = this.#kv(req.key);
    const stale = req.consistency === 'stale';
    return {
      found: kv !== undefined,
      value: kv?.value ?? '',
      index: this.#index,
      readMode: stale ? 'stale' : 'lease',
      staleByMs: stale && this.followerOf !== undefined ? 42 : 0,
      revision: this.#revision,
      createRevision: kv?.create ?? 0,
      modRevision: kv?.mod ?? 0,
      version: kv?.version ?? 0,
    };
  }

  async get(req: GetRequest, signal: AbortSignal): Promise<GetResult> {
    await this.#enter('get', req, signal, req.consistency === 'linearizable');
    return this.#getResult(req);
  }

  /** Like the node: answers at once when nothing would make get() wait or fail. */
  getNow(req: GetRequest): GetResult | null {
    if (
      this.delayMs > 0 ||
      this.hold !== null ||
      this.failNext.length > 0 ||
      (req.consistency === 'linearizable' && this.followerOf !== undefined)
    )
      return null;
    this.calls.push({ method: 'get', req });
    return this.#getResult(req);
  }

  async delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult> {
    await this.#enter('delete', req, signal, true);
    return this.#write(req.session, () => {
      const deleted = this.#delete(req.key);
      return { deleted, index: this.#index, revision: this.#revision + (deleted ? 1 : 0) };
    });
  }

  async compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult> {
    await this.#enter('compareAndSwap', req, signal, true);
    return this.#write(req.session, () => {
      const cur = this.data.get(req.key);
      const ok = req.expected === null ? cur === undefined : cur === req.expected;
      if (ok) this.#set(req.key, req.value);
      const revision = this.#revision + (ok ? 1 : 0);
      return ok || cur === undefined
        ? { swapped: ok, index: this.#index, revision }
        : { swapped: false, current: cur, index: this.#index, revision };
    });
  }

  #rangeKvs(prefix: string, limit: number): { kvs: KeyValue[]; more: boolean } {
    const keys = [...this.data.keys()]
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return { kvs: keys.slice(0, limit).map((key) => this.#kv(key) as KeyValue), more: keys.length > limit };
  }

  async range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult> {
    await this.#enter('range', req, signal, req.consistency === 'linearizable');
    // The node's answer code (cap, start_key, keys_only, count_only), over an empty store with every
    // key of the map laid over it as a read at a past revision would.
    const all = new Map([...this.data.keys()].map((k) => [k, this.#kv(k) ?? null]));
    const { kvs, more, count } = rangeAnswer(new KeyStore(), req, all);
    const at = { index: this.#index, revision: this.#revision };
    return count === undefined ? { kvs, more, ...at } : { kvs, more, count, ...at };
  }

  async txn(req: TxnRequest, signal: AbortSignal): Promise<TxnResult> {
    await this.#enter('txn', req, signal, true);
    return this.#write(req.session, () => {
      const succeeded = req.compares.every((c) => {
        const kv = this.#kv(c.key);
        return compareHolds(c, kv ?? { value: undefined, version: 0, create: 0, mod: 0 });
      });
      const results = (succeeded ? req.success : req.failure).map((o) => this.#txnOp(o));
      return { succeeded, results, index: this.#index, revision: this.#revision + (this.#wrote ? 1 : 0) };
    });
  }

  #txnOp(o: TxnOp): TxnOpResult {
    switch (o.op) {
      case 'put':
        this.#set(o.key, o.value);
        return { op: 'put' };
      case 'delete':
        return { op: 'delete', deleted: this.#delete(o.key) };
      case 'get': {
        const kv = this.#kv(o.key);
        return kv === undefined ? { op: 'get' } : { op: 'get', kv };
      }
      case 'range':
        return { op: 'range', ...this.#rangeKvs(o.prefix, o.limit) };
    }
  }

  async status(): Promise<StatusResult> {
    await this.#enter('status', {}, undefined, false);
    const leader = this.followerOf === undefined ? this.id : this.followerOf.leaderId;
    return {
      id: this.id,
      role: this.followerOf === undefined ? 'leader' : 'follower',
      term: 3,
      leader,
      leaderClientAddr: this.followerOf?.leaderClientAddr ?? '',
      commitIndex: this.#index,
      appliedIndex: this.#index,
      leaseHeld: this.followerOf === undefined,
      leaseRemainingMs: this.followerOf === undefined ? 850 : 0,
      oldLeaseRemainingMs: 0,
      members: [{ id: this.id, peerAddr: '127.0.0.1:7101', clientAddr: '127.0.0.1:7001' }],
      keys: this.data.size,
      version: 'fake',
      revision: this.#revision,
    };
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });
}
