// LeasekvClient: finds the leader, follows not-leader hints, retries with exponential backoff and
// jitter within a deadline, and makes writes exactly-once with sessions (docs/api.md).
import { randomUUID } from 'node:crypto';
import { KV } from '../gen/leasekv/v1/kv_pb.ts';
import { decodeCas, decodeDelete, decodeGet, decodePut, decodeRange, decodeStatus, decodeTxn } from './decode.ts';
import {
  ChangeRefusedError,
  DeadlineExceededError,
  LeasekvError,
  NotLeaderError,
  ResourceExhaustedError,
  UnavailableError,
  errorFromAnswer,
} from './errors.ts';
import { normalizeEndpoint } from './endpoint.ts';
import { SessionPool, type SessionSlot } from './sessions.ts';
import { JsonTransport } from './transport.ts';
import { txnToWire, withKeys } from './txn.ts';
import { watchEndpoints, type WatchOptions, type WatchResponse } from './watch.ts';
import type {
  CallOptions,
  CasResult,
  Consistency,
  DeleteResult,
  EndpointStatus,
  GetResult,
  NodeStatus,
  PutResult,
  RangeResult,
  TxnRequest,
  TxnResult,
} from './types.ts';

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
}

export interface LeasekvClientOptions {
  /** The nodes' client API: `host:port`, `[v6]:port` or `http://host:port`. At least one. */
  readonly endpoints: readonly string[];
  /** Total time for one call, retries included (default 5000). */
  readonly deadlineMs?: number;
  /** Longest single attempt (default 2000): a silent node is given up on and another tried. */
  readonly attemptTimeoutMs?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /** Session id base for exactly-once writes (default: a random UUID). */
  readonly clientId?: string;
  /** false: writes carry no session (a retried write may apply twice). Default true. */
  readonly sessions?: boolean;
  /** Source of backoff jitter in [0, 1) (default Math.random); tests inject a fixed one. */
  readonly random?: () => number;
  /** Concurrent writes (one session slot each); also the connections kept per node. Default 64. */
  readonly maxConcurrency?: number;
}

const PATHS = {
  put: `/${KV.typeName}/${KV.method.put.name}`,
  get: `/${KV.typeName}/${KV.method.get.name}`,
  delete: `/${KV.typeName}/${KV.method.delete.name}`,
  cas: `/${KV.typeName}/${KV.method.compareAndSwap.name}`,
  range: `/${KV.typeName}/${KV.method.range.name}`,
  status: `/${KV.typeName}/${KV.method.status.name}`,
  txn: `/${KV.typeName}/${KV.method.txn.name}`,
  ttlGrant: `/${KV.typeName}/${KV.method.ttlGrant.name}`,
  compact: `/${KV.typeName}/${KV.method.compact.name}`,
  ttlKeepAlive: `/${KV.typeName}/${KV.method.ttlKeepAlive.name}`,
  ttlRevoke: `/${KV.typeName}/${KV.method.ttlRevoke.name}`,
} as const;

/** The methods of leasekv.v1.Cluster (membership; docs/api.md "Cluster"). */
export type ClusterMethod = 'MemberList' | 'MemberAdd' | 'MemberPromote' | 'MemberRemove' | 'TransferLeadership';

const CONSISTENCY_JSON: Readonly<Record<Consistency, string>> = { linearizable: 'LINEARIZABLE', stale: 'STALE' };

export class LeasekvClient {
  readonly #endpoints: string[];
  readonly #deadlineMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #backoff: BackoffOptions;
  readonly #transport: JsonTransport;
  readonly #sessions: SessionPool | undefined;
  /** The endpoint believed to be the leader; undefined until found. */
  #leader: string | undefined;
  /** Round-robin position when no leader is known. */
  #next = 0;
  #closed = false;
  readonly #random: () => number;
  readonly clientId: string;

  constructor(opts: LeasekvClientOptions) {
    if (opts.endpoints.length === 0) throw new RangeError('LeasekvClient: endpoints must not be empty');
    this.#endpoints = [...new Set(opts.endpoints.map(normalizeEndpoint))];
    this.#deadlineMs = positive('deadlineMs', opts.deadlineMs ?? 5000);
    this.#attemptTimeoutMs = positive('attemptTimeoutMs', opts.attemptTimeoutMs ?? 2000);
    this.#backoff = { initialMs: 20, maxMs: 1000, multiplier: 2, ...opts.backoff };
    positive('backoff.initialMs', this.#backoff.initialMs);
    positive('backoff.maxMs', this.#backoff.maxMs);
    if (!(this.#backoff.multiplier >= 1)) throw new RangeError('LeasekvClient: backoff.multiplier must be >= 1');
    const conc = positive('maxConcurrency', opts.maxConcurrency ?? 64);
    this.clientId = opts.clientId ?? randomUUID();
    this.#random = opts.random ?? Math.random;
    this.#sessions = opts.sessions === false ? undefined : new SessionPool(this.clientId, conc);
    this.#transport = new JsonTransport({ maxSocketsPerEndpoint: conc });
  }

  /** The endpoint currently believed to lead (undefined: not known yet). */
  get leaderEndpoint(): string | undefined {
    return this.#leader;
  }

  /** `ttlId`: attach the key to this TTL grant (ttlGrant); without it the key belongs to none. */
  put(key: string, value: string, opts: CallOptions & { ttlId?: number } = {}): Promise<PutResult> {
    return this.#write(
      PATHS.put,
      opts.ttlId === undefined ? { key, value } : { key, value, ttlId: String(opts.ttlId) },
      decodePut,
      opts,
    );
  }

  /**
   * A TTL grant (keys with a time to live; not the leader's lease): it lives `ttlMs` after now and
   * after each keep-alive; when it ends its keys are deleted. Exactly once, like the writes.
   */
  ttlGrant(ttlMs: number, opts: CallOptions = {}): Promise<{ id: number; ttlMs: number; revision: number }> {
    return this.#write(
      PATHS.ttlGrant,
      { ttlMs },
      (j) => {
        const o = j as Record<string, unknown>;
        return { id: Number(o['id'] ?? 0), ttlMs: Number(o['ttlMs'] ?? 0), revision: Number(o['revision'] ?? 0) };
      },
      opts,
    );
  }

  /** Restarts the grant's countdown (the leader answers). Throws LeasekvError code not_found once it has ended. */
  ttlKeepAlive(id: number, opts: CallOptions = {}): Promise<{ id: number; ttlMs: number }> {
    return this.#call(
      PATHS.ttlKeepAlive,
      JSON.stringify({ id: String(id) }),
      (j) => {
        const o = j as Record<string, unknown>;
        return { id: Number(o['id'] ?? 0), ttlMs: Number(o['ttlMs'] ?? 0) };
      },
      opts,
      true,
    );
  }

  /** Forgets the history before `revision`, cluster-wide: older reads and watches answer `compacted`. */
  compact(revision: number, opts: CallOptions = {}): Promise<{ compactRevision: number; revision: number }> {
    return this.#write(
      PATHS.compact,
      { revision: String(revision) },
      (j) => {
        const o = j as Record<string, unknown>;
        return { compactRevision: Number(o['compactRevision'] ?? 0), revision: Number(o['revision'] ?? 0) };
      },
      opts,
    );
  }

  /** Ends the grant now and deletes its keys. found false: it had ended already. */
  ttlRevoke(id: number, opts: CallOptions = {}): Promise<{ found: boolean; revision: number }> {
    return this.#write(
      PATHS.ttlRevoke,
      { id: String(id) },
      (j) => {
        const o = j as Record<string, unknown>;
        return { found: o['found'] === true, revision: Number(o['revision'] ?? 0) };
      },
      opts,
    );
  }

  /**
   * Keeps a grant alive until `signal` aborts: a keep-alive every ttl/3. Resolves when stopped;
   * rejects when the grant has ended (not_found) or a keep-alive could not get through before the
   * TTL was up (the keys may be gone: the caller must stop acting as their owner).
   */
  async ttlKeepAliveLoop(id: number, ttlMs: number, signal: AbortSignal): Promise<void> {
    const every = Math.max(10, Math.floor(ttlMs / 3));
    let lastOk = performance.now();
    while (!signal.aborted) {
      const left = ttlMs - (performance.now() - lastOk);
      if (left <= 0)
        throw new LeasekvError(
          'unavailable',
          `ttl grant ${id}: no keep-alive got through for ${ttlMs} ms; it may have ended`,
        );
      try {
        await this.ttlKeepAlive(id, { deadlineMs: Math.max(1, Math.min(left, this.#attemptTimeoutMs * 2)), signal });
        lastOk = performance.now();
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof LeasekvError && err.code === 'not_found') throw err;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, every);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  }

  get(key: string, opts: CallOptions & { consistency?: Consistency } = {}): Promise<GetResult> {
    const body: Record<string, unknown> = { key };
    if (opts.consistency === 'stale') body['consistency'] = CONSISTENCY_JSON.stale;
    return this.#call(PATHS.get, JSON.stringify(body), decodeGet, opts, opts.consistency !== 'stale');
  }

  delete(key: string, opts: CallOptions = {}): Promise<DeleteResult> {
    return this.#write(PATHS.delete, { key }, decodeDelete, opts);
  }

  /** expected null: succeed only if the key is absent. */
  compareAndSwap(key: string, expected: string | null, value: string, opts: CallOptions = {}): Promise<CasResult> {
    const body: Record<string, unknown> = expected === null ? { key, value } : { key, expected, value };
    return this.#write(PATHS.cas, body, decodeCas, opts);
  }

  /** `revision`: read the keys as they were at this past revision (the answering member's history; `compacted` beyond it). */
  range(
    prefix: string,
    opts: CallOptions & { limit?: number; consistency?: Consistency; revision?: number } = {},
  ): Promise<RangeResult> {
    const body: Record<string, unknown> = { prefix };
    if (opts.limit !== undefined) body['limit'] = opts.limit;
    if (opts.revision !== undefined) body['revision'] = String(opts.revision);
    if (opts.consistency === 'stale') body['consistency'] = CONSISTENCY_JSON.stale;
    return this.#call(PATHS.range, JSON.stringify(body), decodeRange, opts, opts.consistency !== 'stale');
  }

  /**
   * Compares on any number of keys, then runs `success` if all hold, else `failure`, atomically and
   * (with sessions, the default) exactly once. Reads inside see the writes before them.
   */
  async txn(req: TxnRequest, opts: CallOptions = {}): Promise<TxnResult> {
    const res = await this.#write(PATHS.txn, txnToWire(req), decodeTxn, opts);
    return withKeys(res, (res.succeeded ? req.success : req.failure) ?? []);
  }

  /**
   * Changes to `key` (or, with `prefix`, to every key under it) as an async iterator of
   * WatchResponse, one per revision. Served by any member (the leader first if known); resumed on
   * another member from the revision after the last one seen if the connection or the member
   * fails. Stops when `signal` aborts or the loop breaks (docs/api.md, "Watch").
   */
  watch(key: string, opts: WatchOptions = {}): AsyncGenerator<WatchResponse> {
    if (this.#closed) throw new LeasekvError('canceled', 'client is closed');
    const order = (): string[] =>
      this.#leader === undefined
        ? this.#endpoints
        : [this.#leader, ...this.#endpoints.filter((e) => e !== this.#leader)];
    return watchEndpoints(order, key, opts);
  }

  /**
   * A leasekv.v1.Cluster call with its JSON request; resolves with the JSON answer. Changes go to
   * the leader (hints followed) and are not retried once they may have been applied; MemberList is
   * answered by any node.
   */
  cluster(
    method: ClusterMethod,
    body: Record<string, unknown> = {},
    opts: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    const change = method !== 'MemberList';
    return this.#call(
      `/leasekv.v1.Cluster/${method}`,
      JSON.stringify(body),
      (j) => j as Record<string, unknown>,
      opts,
      change,
      !change,
    );
  }

  /** One node's status (default: the first endpoint); no retries on other nodes. */
  async status(endpoint?: string, opts: CallOptions = {}): Promise<NodeStatus> {
    const ep = endpoint ?? this.#endpoints[0]!;
    const ans = await this.#transport.post(
      ep,
      PATHS.status,
      '{}',
      opts.deadlineMs ?? this.#attemptTimeoutMs,
      opts.signal,
    );
    if (ans.status !== 200) throw errorFromAnswer(ep, ans.status, ans.body, ans.header);
    return decodeStatus(JSON.parse(ans.body));
  }

  /** Every endpoint's status, in order, asked in parallel; a node that fails has `error` set. */
  statusAll(opts: CallOptions = {}): Promise<EndpointStatus[]> {
    return Promise.all(
      this.#endpoints.map((endpoint) =>
        this.status(endpoint, opts).then(
          (status) => ({ endpoint, status }),
          (err: unknown) => ({ endpoint, error: err instanceof Error ? err.message : String(err) }),
        ),
      ),
    );
  }

  /**
   * Stops the client: later calls reject with code 'canceled', calls in flight fail, and every
   * connection is destroyed. Resolves once the connections have closed; calling it again is harmless.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#transport.close();
  }

  async #write<T>(
    path: string,
    body: Record<string, unknown>,
    decode: (j: unknown) => T,
    opts: CallOptions,
  ): Promise<T> {
    if (this.#sessions === undefined) return this.#call(path, JSON.stringify(body), decode, opts, true, false);
    const slot: SessionSlot = await this.#sessions.acquire();
    try {
      // The same bytes, hence the same (clientId, seq), on every retry of this write.
      return await this.#call(
        path,
        JSON.stringify({ ...body, clientId: slot.clientId, seq: slot.seq }),
        decode,
        opts,
        true,
      );
    } finally {
      this.#sessions.release(slot);
    }
  }

  /**
   * One call: attempts until success, a non-retryable error, or the deadline. `provesLeader`: a
   * success shows the endpoint leads (writes, linearizable reads), so later calls go straight there.
   * `idempotent` false (a write without a session): never retried once it may have been applied.
   */
  async #call<T>(
    path: string,
    json: string,
    decode: (j: unknown) => T,
    opts: CallOptions,
    provesLeader: boolean,
    idempotent = true,
  ): Promise<T> {
    if (this.#closed) throw new LeasekvError('canceled', 'client is closed');
    const deadlineMs = opts.deadlineMs ?? this.#deadlineMs;
    const deadline = performance.now() + deadlineMs;
    let delayMs = this.#backoff.initialMs;
    let last: LeasekvError | undefined;
    // Hints followed without a pause; bounded so that two nodes naming each other cannot spin us.
    let followsInRow = 0;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        throw new DeadlineExceededError(
          `deadline of ${deadlineMs} ms exceeded after ${attempt - 1} attempt(s)${last === undefined ? '' : `; last error: ${last.message}`}`,
          last?.endpoint ?? '',
        );
      }
      const ep = this.#pick();
      try {
        const ans = await this.#transport.post(
          ep,
          path,
          json,
          Math.min(remaining, this.#attemptTimeoutMs),
          opts.signal,
        );
        if (ans.status === 200) {
          if (provesLeader) this.#leader = ep;
          return decode(JSON.parse(ans.body));
        }
        last = errorFromAnswer(ep, ans.status, ans.body, ans.header);
      } catch (err) {
        if (!(err instanceof LeasekvError)) throw err;
        last = err;
      }
      if (opts.signal?.aborted === true)
        throw new LeasekvError('canceled', `canceled; last error: ${last.message}`, ep);
      const mayHaveApplied =
        (last instanceof UnavailableError && last.outcomeUnknown) || last instanceof DeadlineExceededError;
      if (!idempotent && mayHaveApplied) throw last;
      const hinted = await this.#afterFailure(ep, last);
      if (hinted === 'fatal') throw last;
      // A fresh hint is followed at once; otherwise back off (exponential, full jitter).
      followsInRow = hinted === 'followed' ? followsInRow + 1 : 0;
      if (hinted !== 'followed' || followsInRow > 2) {
        await sleep(Math.min(this.#random() * delayMs, Math.max(0, deadline - performance.now())));
        delayMs = Math.min(this.#backoff.maxMs, delayMs * this.#backoff.multiplier);
      }
    }
  }

  /** Updates the leader guess after a failed attempt; says whether to retry and how. */
  async #afterFailure(ep: string, err: LeasekvError): Promise<'followed' | 'backoff' | 'fatal'> {
    if (err instanceof NotLeaderError) {
      if (err.leaderAddr !== '' && err.leaderAddr !== ep) {
        this.#setLeader(err.leaderAddr);
        return 'followed';
      }
      if (err.leaderId !== '') {
        const addr = await this.#addrOfLeader(err.leaderId);
        if (addr !== undefined && addr !== ep) {
          this.#setLeader(addr);
          return 'followed';
        }
      }
      this.#forgetLeader(ep);
      return 'backoff';
    }
    if (err instanceof UnavailableError || err instanceof DeadlineExceededError) {
      this.#forgetLeader(ep);
      return 'backoff';
    }
    if (err instanceof ResourceExhaustedError) return 'backoff';
    if (err instanceof ChangeRefusedError && err.transient) return 'backoff';
    return 'fatal';
  }

  /** The client address of node `id`, from the status of any endpoint that knows the members. */
  async #addrOfLeader(id: string): Promise<string | undefined> {
    for (const s of await this.statusAll({ deadlineMs: Math.min(500, this.#attemptTimeoutMs) })) {
      if (s.status === undefined) continue;
      if (s.status.id === id) return s.endpoint;
      const m = s.status.members.find((x) => x.id === id && x.clientAddr !== '');
      if (m !== undefined) return m.clientAddr;
    }
    return undefined;
  }

  #pick(): string {
    if (this.#leader !== undefined) return this.#leader;
    const ep = this.#endpoints[this.#next % this.#endpoints.length]!;
    this.#next++;
    return ep;
  }

  #setLeader(addr: string): void {
    if (!this.#endpoints.includes(addr)) this.#endpoints.push(addr);
    this.#leader = addr;
  }

  #forgetLeader(ep: string): void {
    if (this.#leader === ep) this.#leader = undefined;
    // Next attempt goes to the endpoint after the one that failed.
    const i = this.#endpoints.indexOf(ep);
    if (i >= 0) this.#next = i + 1;
  }
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`LeasekvClient: ${name} must be a positive number, got ${v}`);
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
