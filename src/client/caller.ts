// The retrying caller under LeasekvClient: sends each call to the endpoint believed to lead,
// follows not-leader hints, retries with exponential backoff and jitter within a deadline, and runs
// writes in session slots so that a retried write is applied once (docs/api.md).
import { randomUUID } from 'node:crypto';
import { KV } from '../gen/leasekv/v1/kv_pb.ts';
import { decodeStatus } from './decode.ts';
import {
  ChangeRefusedError,
  DeadlineExceededError,
  LeasekvError,
  NotLeaderError,
  ResourceExhaustedError,
  AnswerTooLargeError,
  UnavailableError,
  CertificateError,
  errorFromAnswer,
  mayHaveReached,
  withOutcome,
} from './errors.ts';
import { normalizeEndpoint } from './endpoint.ts';
import { tlsOf, validated, type BackoffOptions, type LeasekvClientOptions } from './options.ts';
import { SessionPool, type SessionSlot } from './sessions.ts';
import { JsonTransport, type ClientTlsOptions } from './transport.ts';
import type { CallOptions, EndpointStatus, NodeStatus } from './types.ts';
import { Authenticator } from './auth.ts';
import { CallScope, sleep, timeoutMs } from './timing.ts';

export type { BackoffOptions, LeasekvClientOptions } from './options.ts';

const AUTHENTICATE_PATH = '/leasekv.v1.Auth/Authenticate';
const STATUS_PATH = `/${KV.typeName}/${KV.method.status.name}`;

/**
 * How a call is routed and retried, and whether its outcome is tracked (docs/api.md, "Outcome
 * unknown"): `read` any member may answer; `leader-read` a success shows the endpoint leads;
 * `write` goes to the leader and is retried (a session write, applied once whatever the retries;
 * or one that is harmless twice, a TTL keep-alive); `write-once` (a write without a session) is
 * never retried once it may have been applied. A write's error says whether it may have applied.
 */
export type CallKind = 'read' | 'leader-read' | 'write' | 'write-once';

export class Caller {
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
  /** The scopes of the calls (and watches) in flight: close() aborts them. */
  readonly #inflight = new Set<CallScope>();
  readonly #random: () => number;
  /** Credentials and the current token (undefined: none sent). */
  readonly auth: Authenticator | undefined;
  readonly clientId: string;
  /** TLS settings of every connection (null: plain http). */
  readonly tls: ClientTlsOptions | null;
  /** Largest answer or watch event read (options.ts). */
  readonly maxResponseBytes: number;

  constructor(opts: LeasekvClientOptions) {
    const v = validated(opts);
    this.#endpoints = v.endpoints;
    this.#deadlineMs = v.deadlineMs;
    this.#attemptTimeoutMs = v.attemptTimeoutMs;
    this.#backoff = v.backoff;
    const conc = v.maxConcurrency;
    this.maxResponseBytes = v.maxResponseBytes;
    this.clientId = opts.clientId ?? randomUUID();
    this.#random = opts.random ?? Math.random;
    this.#sessions = opts.sessions === false ? undefined : new SessionPool(this.clientId, conc);
    this.tls = tlsOf(opts.endpoints, opts.tls);
    this.#transport = new JsonTransport({
      maxSocketsPerEndpoint: conc,
      tls: this.tls,
      maxResponseBytes: this.maxResponseBytes,
    });
    this.auth =
      opts.credentials === undefined
        ? undefined
        : new Authenticator(opts.credentials, (name, password) =>
            this.call(AUTHENTICATE_PATH, JSON.stringify({ name, password }), tokenOf, {}, 'read'),
          );
  }

  /** The endpoint currently believed to lead (undefined: not known yet). */
  get leader(): string | undefined {
    return this.#leader;
  }

  /** Every endpoint known, the ones learnt from hints included. */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  get attemptTimeoutMs(): number {
    return this.#attemptTimeoutMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** One node's status (default: the first endpoint); no retries on other nodes. */
  async status(endpoint?: string, opts: CallOptions = {}): Promise<NodeStatus> {
    const ep = endpoint === undefined ? this.#endpoints[0]! : normalizeEndpoint(endpoint);
    const limitMs = opts.deadlineMs === undefined ? this.#attemptTimeoutMs : timeoutMs('deadlineMs', opts.deadlineMs);
    const scope = this.scope(opts.signal);
    try {
      const ans = await this.#transport.post(ep, STATUS_PATH, '{}', limitMs, scope.signal);
      if (ans.status !== 200) throw errorFromAnswer(ep, ans.status, ans.body, ans.header);
      return decodeStatus(JSON.parse(ans.body));
    } catch (err) {
      throw scope.signal.aborted && err instanceof LeasekvError ? this.canceled(err, ep) : err;
    } finally {
      scope.end();
    }
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
   * Later calls reject with code 'canceled'; calls in flight (and writes waiting for a session slot,
   * and watches) end with code 'canceled' at once, not at their deadline; resolves once every
   * connection has closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const scope of [...this.#inflight]) scope.abort();
    return this.#transport.close();
  }

  /**
   * A call's own cancellation: aborted by the caller's signal or by close(). Throws canceled if
   * either has happened already (an aborted signal never fires 'abort' again, so it must be looked at).
   */
  scope(signal: AbortSignal | undefined): CallScope {
    if (this.#closed) throw new LeasekvError('canceled', 'client is closed');
    if (signal?.aborted === true)
      throw new LeasekvError('canceled', 'canceled before it started (the signal was aborted)');
    const scope = new CallScope(signal, this.#inflight);
    return scope;
  }

  /** The error for a call `scope` ended: closed client or the caller's signal, with the last error seen. */
  canceled(last: LeasekvError | undefined, ep = ''): LeasekvError {
    const why = this.#closed ? 'client is closed' : 'canceled';
    return new LeasekvError('canceled', last === undefined ? why : `${why}; last error: ${last.message}`, ep);
  }

  async write<T>(
    path: string,
    body: Record<string, unknown>,
    decode: (j: unknown) => T,
    opts: CallOptions,
  ): Promise<T> {
    if (this.#sessions === undefined) return this.call(path, JSON.stringify(body), decode, opts, 'write-once');
    // The deadline counts from here: waiting for a slot (maxConcurrency writes in flight) is part of it.
    const startedAt = performance.now();
    const deadlineMs = this.#deadlineOf(opts);
    const scope = this.scope(opts.signal);
    let slot: SessionSlot;
    try {
      slot = await this.#sessions.acquire(scope.signal, deadlineMs);
    } catch (err) {
      throw scope.signal.aborted ? this.canceled(undefined) : err;
    } finally {
      scope.end();
    }
    try {
      // The same bytes, hence the same (clientId, seq), on every retry of this write.
      return await this.call(
        path,
        JSON.stringify({ ...body, clientId: slot.clientId, seq: slot.seq }),
        decode,
        { ...opts, deadlineMs: Math.max(1, deadlineMs - (performance.now() - startedAt)) },
        'write',
      );
    } finally {
      this.#sessions.release(slot);
    }
  }

  #deadlineOf(opts: CallOptions): number {
    return opts.deadlineMs === undefined ? this.#deadlineMs : timeoutMs('deadlineMs', opts.deadlineMs);
  }

  /**
   * One call: attempts until success, a non-retryable error, the deadline, the caller's signal or
   * close(). A leader-read or write's success shows the endpoint leads, so later calls go straight
   * there. A write's error has `outcomeUnknown` true when any attempt may have reached a member
   * without a definite answer — sticky over the retries: a later refusal (not_leader, unavailable)
   * does not say that the earlier attempt was not applied.
   */
  async call<T>(path: string, json: string, decode: (j: unknown) => T, opts: CallOptions, kind: CallKind): Promise<T> {
    const deadlineMs = this.#deadlineOf(opts);
    const deadline = performance.now() + deadlineMs;
    const scope = this.scope(opts.signal);
    const reached = { any: false };
    try {
      if (path !== AUTHENTICATE_PATH) await this.auth?.ensure();
      return await this.#attempts(path, json, decode, { deadline, deadlineMs, signal: scope.signal, kind, reached });
    } catch (err) {
      const write = kind === 'write' || kind === 'write-once';
      throw err instanceof LeasekvError ? withOutcome(err, write && reached.any) : err;
    } finally {
      scope.end();
    }
  }

  async #attempts<T>(path: string, json: string, decode: (j: unknown) => T, a: Attempts): Promise<T> {
    const { deadline, deadlineMs, signal, kind, reached } = a;
    const provesLeader = kind !== 'read';
    let delayMs = this.#backoff.initialMs;
    let last: LeasekvError | undefined;
    // The last error that says what is wrong: an attempt the deadline cut short (less time than
    // attemptTimeoutMs) that then ran out of it says only that time ran out, which the deadline
    // error says anyway — it would hide, say, a TLS handshake refused on every earlier attempt.
    let telling: LeasekvError | undefined;
    // Hints followed without a pause; bounded so that two nodes naming each other cannot spin us.
    let followsInRow = 0;
    let renewed = false;
    const certRefused = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw this.canceled(last, last?.endpoint);
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        throw new DeadlineExceededError(
          `deadline of ${deadlineMs} ms exceeded after ${attempt - 1} attempt(s)${telling === undefined ? '' : `; last error: ${telling.message}`}`,
          telling?.endpoint ?? '',
        );
      }
      const ep = this.#pick();
      const attemptMs = Math.min(remaining, this.#attemptTimeoutMs);
      const startedAt = performance.now();
      try {
        const authorization = this.auth?.header();
        const ans = await this.#transport.post(ep, path, json, attemptMs, signal, authorization);
        if (ans.status === 200) {
          if (provesLeader) this.#leader = ep;
          return decode(JSON.parse(ans.body));
        }
        last = errorFromAnswer(ep, ans.status, ans.body, ans.header);
        // A refused token (expired, or the password changed): authenticate again, once per call.
        if (
          last.code === 'unauthenticated' &&
          !renewed &&
          this.auth?.renewable === true &&
          path !== AUTHENTICATE_PATH
        ) {
          renewed = true;
          this.auth.invalidate(authorization);
          await this.auth.ensure();
          continue;
        }
      } catch (err) {
        if (!(err instanceof LeasekvError)) throw err;
        last = err;
      }
      if (mayHaveReached(last)) reached.any = true;
      const cutShortAndRanOut =
        attemptMs < this.#attemptTimeoutMs && performance.now() - startedAt >= attemptMs && telling !== undefined;
      if (!cutShortAndRanOut) telling = last;
      if (signal.aborted) throw this.canceled(last, ep);
      if (kind === 'write-once' && reached.any) throw last;
      // A refused certificate stays refused: try each endpoint once, then fail rather than retry
      // until the deadline (a node with a good certificate may still answer).
      if (last instanceof CertificateError) {
        certRefused.add(ep);
        if (this.#endpoints.every((e) => certRefused.has(e))) throw last;
      }
      const hinted = await this.#afterFailure(ep, last, signal, deadline);
      if (hinted === 'fatal') throw last;
      // A fresh hint is followed at once; otherwise back off (exponential, full jitter).
      followsInRow = hinted === 'followed' ? followsInRow + 1 : 0;
      if (hinted !== 'followed' || followsInRow > 2) {
        await sleep(Math.min(this.#random() * delayMs, Math.max(0, deadline - performance.now())), signal);
        delayMs = Math.min(this.#backoff.maxMs, delayMs * this.#backoff.multiplier);
      }
    }
  }

  /** Updates the leader guess after a failed attempt; says whether to retry and how. */
  async #afterFailure(
    ep: string,
    err: LeasekvError,
    signal: AbortSignal,
    deadline: number,
  ): Promise<'followed' | 'backoff' | 'fatal'> {
    if (err instanceof NotLeaderError) {
      if (err.leaderAddr !== '' && err.leaderAddr !== ep) {
        this.#setLeader(err.leaderAddr);
        return 'followed';
      }
      if (err.leaderId !== '') {
        const addr = await this.#addrOfLeader(err.leaderId, signal, deadline);
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
    if (err instanceof AnswerTooLargeError) return 'fatal';
    if (err instanceof ResourceExhaustedError) return 'backoff';
    if (err instanceof ChangeRefusedError && err.transient) return 'backoff';
    return 'fatal';
  }

  /** The client address of node `id`, from the status of any endpoint that knows the members. */
  async #addrOfLeader(id: string, signal: AbortSignal, deadline: number): Promise<string | undefined> {
    // Within the call's deadline: asking the members must not carry the call past it.
    const limitMs = Math.min(500, this.#attemptTimeoutMs, deadline - performance.now());
    if (limitMs < 1) return undefined;
    for (const s of await this.statusAll({ deadlineMs: limitMs, signal })) {
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

/** One call's attempts: its deadline, signal and kind; `reached.any` is set once an attempt may have reached a member. */
interface Attempts {
  readonly deadline: number;
  readonly deadlineMs: number;
  readonly signal: AbortSignal;
  readonly kind: CallKind;
  readonly reached: { any: boolean };
}

function tokenOf(j: unknown): string {
  return String((j as Record<string, unknown>)['token'] ?? '');
}
