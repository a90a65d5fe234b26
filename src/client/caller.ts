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
  errorFromAnswer,
} from './errors.ts';
import { endpointScheme, normalizeEndpoint } from './endpoint.ts';
import { SessionPool, type SessionSlot } from './sessions.ts';
import { JsonTransport, type ClientTlsOptions } from './transport.ts';
import type { CallOptions, EndpointStatus, NodeStatus } from './types.ts';
import { Authenticator, type Credentials } from './auth.ts';

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
}

export interface LeasekvClientOptions {
  /**
   * The nodes' client API: `host:port`, `[v6]:port`, `http://host:port` or `https://host:port`. At
   * least one. TLS when an endpoint says https:// or `tls` is given (not both http:// and TLS).
   */
  readonly endpoints: readonly string[];
  /** TLS to the nodes (docs/security.md): the CA to verify them against, a client certificate. */
  readonly tls?: ClientTlsOptions;
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
  /** A user and password (authenticated on first use, again when the token is refused) or a token (issue 15). */
  readonly credentials?: Credentials;
}

const AUTHENTICATE_PATH = '/leasekv.v1.Auth/Authenticate';
const STATUS_PATH = `/${KV.typeName}/${KV.method.status.name}`;

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
  readonly #random: () => number;
  /** Credentials and the current token (undefined: none sent). */
  readonly auth: Authenticator | undefined;
  readonly clientId: string;
  /** TLS settings of every connection (null: plain http). */
  readonly tls: ClientTlsOptions | null;

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
    this.tls = tlsOf(opts.endpoints, opts.tls);
    this.#transport = new JsonTransport({ maxSocketsPerEndpoint: conc, tls: this.tls });
    this.auth =
      opts.credentials === undefined
        ? undefined
        : new Authenticator(opts.credentials, (name, password) =>
            this.call(AUTHENTICATE_PATH, JSON.stringify({ name, password }), tokenOf, {}, false),
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
    const ep = endpoint ?? this.#endpoints[0]!;
    const ans = await this.#transport.post(
      ep,
      STATUS_PATH,
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

  /** Later calls reject with code 'canceled'; resolves once every connection has closed. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#transport.close();
  }

  async write<T>(
    path: string,
    body: Record<string, unknown>,
    decode: (j: unknown) => T,
    opts: CallOptions,
  ): Promise<T> {
    if (this.#sessions === undefined) return this.call(path, JSON.stringify(body), decode, opts, true, false);
    const slot: SessionSlot = await this.#sessions.acquire();
    try {
      // The same bytes, hence the same (clientId, seq), on every retry of this write.
      return await this.call(
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
  async call<T>(
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
    // The last error that says what is wrong: an attempt the deadline cut short (less time than
    // attemptTimeoutMs) that then ran out of it says only that time ran out, which the deadline
    // error says anyway — it would hide, say, a TLS handshake refused on every earlier attempt.
    let telling: LeasekvError | undefined;
    // Hints followed without a pause; bounded so that two nodes naming each other cannot spin us.
    let followsInRow = 0;
    let renewed = false;
    if (path !== AUTHENTICATE_PATH) await this.auth?.ensure();
    for (let attempt = 1; ; attempt++) {
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
        const ans = await this.#transport.post(ep, path, json, attemptMs, opts.signal, authorization);
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
      const cutShortAndRanOut =
        attemptMs < this.#attemptTimeoutMs && performance.now() - startedAt >= attemptMs && telling !== undefined;
      if (!cutShortAndRanOut) telling = last;
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
    if (err instanceof AnswerTooLargeError) return 'fatal';
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

function tokenOf(j: unknown): string {
  return String((j as Record<string, unknown>)['token'] ?? '');
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`LeasekvClient: ${name} must be a positive number, got ${v}`);
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The TLS settings the endpoints and options ask for (null: plain http); refuses a mix. */
function tlsOf(endpoints: readonly string[], tls: ClientTlsOptions | undefined): ClientTlsOptions | null {
  const schemes = new Set(endpoints.map(endpointScheme));
  if (schemes.has('http') && schemes.has('https'))
    throw new RangeError('LeasekvClient: endpoints name both http:// and https://; a cluster speaks one');
  if (schemes.has('http') && tls !== undefined)
    throw new RangeError('LeasekvClient: http:// endpoints with tls options; use https:// (or host:port)');
  if (tls !== undefined) return tls;
  return schemes.has('https') ? {} : null;
}
