// LeasekvClient: finds the leader, follows not-leader hints, retries with exponential backoff and
// jitter within a deadline, and makes writes exactly-once with sessions (docs/api.md).
// The retrying itself is in caller.ts.
import { KV } from '../gen/leasekv/v1/kv_pb.ts';
import { Caller, type LeasekvClientOptions } from './caller.ts';
import { decodeCas, decodeDelete, decodeGet, decodePut, decodeRange, decodeTxn } from './decode.ts';
import { DeadlineExceededError, LeasekvError, UnavailableError } from './errors.ts';
import { sleep, timeoutMs } from './timing.ts';
import { requester } from './transport.ts';
import { txnToWire, withKeys } from './txn.ts';
import { validateWatch, watchEndpoints, type WatchOptions, type WatchResponse } from './watch.ts';
import { scanPages, type ScanOptions } from './scan.ts';
import type {
  CallOptions,
  CasResult,
  Consistency,
  DeleteResult,
  EndpointStatus,
  GetResult,
  NodeStatus,
  PutResult,
  RangeOptions,
  RangeResult,
  TxnRequest,
  TxnResult,
} from './types.ts';

export type { BackoffOptions, LeasekvClientOptions } from './caller.ts';

const PATHS = {
  put: `/${KV.typeName}/${KV.method.put.name}`,
  get: `/${KV.typeName}/${KV.method.get.name}`,
  delete: `/${KV.typeName}/${KV.method.delete.name}`,
  cas: `/${KV.typeName}/${KV.method.compareAndSwap.name}`,
  range: `/${KV.typeName}/${KV.method.range.name}`,
  txn: `/${KV.typeName}/${KV.method.txn.name}`,
  ttlGrant: `/${KV.typeName}/${KV.method.ttlGrant.name}`,
  compact: `/${KV.typeName}/${KV.method.compact.name}`,
  ttlKeepAlive: `/${KV.typeName}/${KV.method.ttlKeepAlive.name}`,
  ttlRevoke: `/${KV.typeName}/${KV.method.ttlRevoke.name}`,
} as const;

/** The methods of leasekv.v1.Cluster (membership; docs/api.md "Cluster"). */
export type ClusterMethod = 'MemberList' | 'MemberAdd' | 'MemberPromote' | 'MemberRemove' | 'TransferLeadership';

const CONSISTENCY_JSON: Readonly<Record<Consistency, string>> = { linearizable: 'LINEARIZABLE', stale: 'STALE' };

/** A stale read may be answered by any member; a linearizable one only by the leader. */
function readKind(opts: { consistency?: Consistency }): 'read' | 'leader-read' {
  return opts.consistency === 'stale' ? 'read' : 'leader-read';
}

export class LeasekvClient {
  readonly #caller: Caller;
  readonly clientId: string;

  constructor(opts: LeasekvClientOptions) {
    this.#caller = new Caller(opts);
    this.clientId = this.#caller.clientId;
  }

  /** The authorization header value for these credentials (authenticating first if needed), for raw HTTP calls. */
  async authorization(): Promise<string | undefined> {
    await this.#caller.auth?.ensure();
    return this.#caller.auth?.header();
  }

  /** A leasekv.v1.Auth call (users and roles; docs/api.md) with its JSON request; resolves with the JSON answer. */
  auth(method: string, body: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<Record<string, unknown>> {
    const change = !method.endsWith('List');
    const decode = (j: unknown): Record<string, unknown> => j as Record<string, unknown>;
    return this.#caller.call(
      `/leasekv.v1.Auth/${method}`,
      JSON.stringify(body),
      decode,
      opts,
      change ? 'write-once' : 'read',
    );
  }

  /** The endpoint currently believed to lead (undefined: not known yet). */
  get leaderEndpoint(): string | undefined {
    return this.#caller.leader;
  }

  /** `ttlId`: attach the key to this TTL grant (ttlGrant); without it the key belongs to none. */
  put(key: string, value: string, opts: CallOptions & { ttlId?: number } = {}): Promise<PutResult> {
    return this.#caller.write(
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
    return this.#caller.write(
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
    return this.#caller.call(
      PATHS.ttlKeepAlive,
      JSON.stringify({ id: String(id) }),
      (j) => {
        const o = j as Record<string, unknown>;
        return { id: Number(o['id'] ?? 0), ttlMs: Number(o['ttlMs'] ?? 0) };
      },
      opts,
      'write',
    );
  }

  /** Forgets the history before `revision`, cluster-wide: older reads and watches answer `compacted`. */
  compact(revision: number, opts: CallOptions = {}): Promise<{ compactRevision: number; revision: number }> {
    return this.#caller.write(
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
    return this.#caller.write(
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
   * rejects when the grant has ended (not_found), when it may have ended — no keep-alive got through
   * within the TTL, counted from when the last successful one was *sent* (the process may have been
   * paused between sending it and reading the answer) — or with any error a retry cannot fix
   * (the client closed: canceled; permission_denied, …). The caller must then stop acting as the
   * owner of the grant's keys. `opts.sinceMs`: when the grant was asked for (performance.now()),
   * default now; `opts.onAlive(untilMs)`: after each keep-alive, the grant is known to live until then.
   */
  async ttlKeepAliveLoop(
    id: number,
    ttlMs: number,
    signal: AbortSignal,
    opts: { readonly sinceMs?: number; readonly onAlive?: (untilMs: number) => void } = {},
  ): Promise<void> {
    timeoutMs('ttlMs', ttlMs);
    const every = Math.max(10, Math.floor(ttlMs / 3));
    let aliveUntil = (opts.sinceMs ?? performance.now()) + ttlMs;
    while (!signal.aborted) {
      const sentAt = performance.now();
      const left = aliveUntil - sentAt;
      if (left <= 0)
        throw new LeasekvError(
          'unavailable',
          `ttl grant ${id}: no keep-alive got through within its ${ttlMs} ms TTL; it may have ended`,
        );
      try {
        await this.ttlKeepAlive(id, {
          deadlineMs: Math.max(1, Math.min(left, this.#caller.attemptTimeoutMs * 2)),
          signal,
        });
        // The leader restarted the countdown at the earliest when this was sent.
        aliveUntil = Math.max(aliveUntil, sentAt + ttlMs);
        opts.onAlive?.(aliveUntil);
      } catch (err) {
        if (signal.aborted) return;
        // Deadline or no member reachable: try again while the TTL lasts. Anything else (ended,
        // refused, client closed) a retry cannot fix; retrying at once would spin.
        if (err instanceof DeadlineExceededError || err instanceof UnavailableError) continue;
        throw err;
      }
      await sleep(Math.max(0, Math.min(every, aliveUntil - performance.now())), signal);
    }
  }

  get(key: string, opts: CallOptions & { consistency?: Consistency } = {}): Promise<GetResult> {
    const body: Record<string, unknown> = { key };
    if (opts.consistency === 'stale') body['consistency'] = CONSISTENCY_JSON.stale;
    return this.#caller.call(PATHS.get, JSON.stringify(body), decodeGet, opts, readKind(opts));
  }

  delete(key: string, opts: CallOptions = {}): Promise<DeleteResult> {
    return this.#caller.write(PATHS.delete, { key }, decodeDelete, opts);
  }

  /** expected null: succeed only if the key is absent. */
  compareAndSwap(key: string, expected: string | null, value: string, opts: CallOptions = {}): Promise<CasResult> {
    const body: Record<string, unknown> = expected === null ? { key, value } : { key, expected, value };
    return this.#caller.write(PATHS.cas, body, decodeCas, opts);
  }

  /**
   * One Range: at most `limit` keys under `prefix`, in one answer. An answer over the server's
   * --max-response-bytes is refused with AnswerTooLargeError: scan() reads any number of keys in pages.
   */
  range(prefix: string, opts: CallOptions & RangeOptions = {}): Promise<RangeResult> {
    const body: Record<string, unknown> = { prefix };
    if (opts.limit !== undefined) body['limit'] = opts.limit;
    if (opts.revision !== undefined) body['revision'] = String(opts.revision);
    if (opts.consistency === 'stale') body['consistency'] = CONSISTENCY_JSON.stale;
    if (opts.startKey !== undefined && opts.startKey !== '') body['startKey'] = opts.startKey;
    if (opts.keysOnly === true) body['keysOnly'] = true;
    if (opts.countOnly === true) body['countOnly'] = true;
    return this.#caller.call(PATHS.range, JSON.stringify(body), decodeRange, opts, readKind(opts));
  }

  /**
   * Every key under `prefix` (at most opts.limit, default all), a page per answer, each under the
   * server's answer cap (scan.ts): yields the pages in key order, all read at the first one's
   * revision. The last page's `more`: keys remain beyond opts.limit.
   */
  scan(prefix: string, opts: CallOptions & ScanOptions = {}): AsyncGenerator<RangeResult> {
    return scanPages((o) => this.range(prefix, o), opts);
  }

  /**
   * Compares on any number of keys, then runs `success` if all hold, else `failure`, atomically and
   * (with sessions, the default) exactly once. Reads inside see the writes before them.
   */
  async txn(req: TxnRequest, opts: CallOptions = {}): Promise<TxnResult> {
    const res = await this.#caller.write(PATHS.txn, txnToWire(req), decodeTxn, opts);
    return withKeys(res, (res.succeeded ? req.success : req.failure) ?? []);
  }

  /**
   * Changes to `key` (or, with `prefix`, to every key under it) as an async iterator of
   * WatchResponse, one per revision. Served by any member (the leader first if known); resumed on
   * another member from the revision after the last one seen if the connection or the member
   * fails. Stops when `signal` aborts or the loop breaks (docs/api.md, "Watch").
   */
  watch(key: string, opts: WatchOptions = {}): AsyncGenerator<WatchResponse> {
    const caller = this.#caller;
    if (caller.closed) throw new LeasekvError('canceled', 'client is closed');
    validateWatch(opts);
    const order = (): string[] => {
      const leader = caller.leader;
      return leader === undefined ? [...caller.endpoints] : [leader, ...caller.endpoints.filter((e) => e !== leader)];
    };
    const auth = caller.auth;
    return watchEndpoints(
      order,
      key,
      opts,
      requester(caller.tls),
      auth && {
        header: () => auth.header(),
        renew: async (stale) => {
          if (!auth.renewable) return false;
          auth.invalidate(stale);
          await auth.ensure();
          return true;
        },
      },
      (signal) => caller.scope(signal),
      caller.maxResponseBytes,
      async (ep, signal) => (await caller.status(ep, { signal })).revision,
    );
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
    return this.#caller.call(
      `/leasekv.v1.Cluster/${method}`,
      JSON.stringify(body),
      (j) => j as Record<string, unknown>,
      opts,
      change ? 'write-once' : 'read',
    );
  }

  /** One node's status (default: the first endpoint); no retries on other nodes. */
  status(endpoint?: string, opts: CallOptions = {}): Promise<NodeStatus> {
    return this.#caller.status(endpoint, opts);
  }

  /** Every endpoint's status, in order, asked in parallel; a node that fails has `error` set. */
  statusAll(opts: CallOptions = {}): Promise<EndpointStatus[]> {
    return this.#caller.statusAll(opts);
  }

  /**
   * Stops the client: later calls reject with code 'canceled', calls in flight fail, and every
   * connection is destroyed. Resolves once the connections have closed; calling it again is harmless.
   */
  close(): Promise<void> {
    return this.#caller.close();
  }
}
