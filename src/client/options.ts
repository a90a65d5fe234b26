// The client's options: what they mean, and their validation when the client is built (limits
// that cannot work are refused with a RangeError/TypeError naming the option, not found at run time).
import type { Credentials } from './auth.ts';
import { endpointScheme, normalizeEndpoint } from './endpoint.ts';
import { timeoutMs } from './timing.ts';
import type { ClientTlsOptions } from './transport.ts';

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
  /**
   * Largest answer read (bytes; a watch event likewise), default 64 MiB — far above the JSON of the
   * server's default 3 MiB answer cap; raise it with the cluster's --max-response-bytes. Past it the
   * answer is dropped (AnswerTooLargeError, not retried): memory stays bounded whatever a node — or
   * something else listening at an endpoint — sends.
   */
  readonly maxResponseBytes?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The options with defaults, checked. */
export interface Validated {
  readonly endpoints: string[];
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly backoff: BackoffOptions;
  readonly maxConcurrency: number;
  readonly maxResponseBytes: number;
}

export function validated(opts: LeasekvClientOptions): Validated {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('LeasekvClient: options must be an object');
  if (!Array.isArray(opts.endpoints) || opts.endpoints.some((e) => typeof e !== 'string'))
    throw new TypeError('LeasekvClient: endpoints must be an array of strings (host:port)');
  if (opts.endpoints.length === 0) throw new RangeError('LeasekvClient: endpoints must not be empty');
  const endpoints = [...new Set(opts.endpoints.map(normalizeEndpoint))];
  const deadlineMs = timeoutMs('deadlineMs', opts.deadlineMs ?? 5000);
  const attemptTimeoutMs = timeoutMs('attemptTimeoutMs', opts.attemptTimeoutMs ?? 2000);
  const backoff: BackoffOptions = { initialMs: 20, maxMs: 1000, multiplier: 2, ...opts.backoff };
  timeoutMs('backoff.initialMs', backoff.initialMs);
  timeoutMs('backoff.maxMs', backoff.maxMs);
  if (backoff.maxMs < backoff.initialMs)
    throw new RangeError(
      `LeasekvClient: backoff.maxMs (${backoff.maxMs}) must be >= backoff.initialMs (${backoff.initialMs})`,
    );
  if (!(backoff.multiplier >= 1 && Number.isFinite(backoff.multiplier)))
    throw new RangeError('LeasekvClient: backoff.multiplier must be a finite number >= 1');
  const conc = opts.maxConcurrency ?? 64;
  if (!Number.isSafeInteger(conc) || conc < 1)
    throw new RangeError(`LeasekvClient: maxConcurrency must be a positive integer, got ${conc}`);
  if (opts.clientId !== undefined && (typeof opts.clientId !== 'string' || opts.clientId === ''))
    throw new RangeError('LeasekvClient: clientId must be a non-empty string');
  const maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 1024 || maxResponseBytes > 2 ** 31 - 1)
    throw new RangeError(`LeasekvClient: maxResponseBytes must be an integer in 1024..2^31-1, got ${maxResponseBytes}`);
  if (opts.random !== undefined && typeof opts.random !== 'function')
    throw new TypeError('LeasekvClient: random must be a function');
  return { endpoints, deadlineMs, attemptTimeoutMs, backoff, maxConcurrency: conc, maxResponseBytes };
}

/** The TLS settings the endpoints and options ask for (null: plain http); refuses a mix. */
export function tlsOf(endpoints: readonly string[], tls: ClientTlsOptions | undefined): ClientTlsOptions | null {
  const schemes = new Set(endpoints.map(endpointScheme));
  if (schemes.has('http') && schemes.has('https'))
    throw new RangeError('LeasekvClient: endpoints name both http:// and https://; a cluster speaks one');
  if (schemes.has('http') && tls !== undefined)
    throw new RangeError('LeasekvClient: http:// endpoints with tls options; use https:// (or host:port)');
  if (tls !== undefined) return tls;
  return schemes.has('https') ? {} : null;
}
