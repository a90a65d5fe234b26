// Typed errors of the leasekv client. Each maps one Connect/gRPC code (docs/api.md "Errors").

export type ErrorCode =
  | 'not_leader'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'invalid_argument'
  | 'resource_exhausted'
  | 'session_expired'
  | 'unimplemented'
  | 'canceled'
  | 'compacted'
  | 'not_found'
  | 'failed_precondition'
  | 'unauthenticated'
  | 'permission_denied'
  | 'already_exists'
  | 'internal';

export class LeasekvError extends Error {
  override name = 'LeasekvError';
  /**
   * A write (put, delete, cas, txn, TTL grant/keep-alive/revoke, compact, a membership or auth
   * change) that ended with this error may or may not have been applied: some attempt may have
   * reached a member (sent, then a deadline, close(), an abort, a lost connection, or the server's
   * `leasekv-outcome: unknown`) and no definite answer came back. false: nothing was applied — the
   * error came before anything was sent (validation, the wait for a session slot, a canceled
   * signal) or every attempt was refused with a definite answer (invalid_argument,
   * permission_denied, not_leader, …). Always false for reads. What to do: docs/api.md, "Outcome unknown".
   */
  readonly outcomeUnknown: boolean = false;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The endpoint that answered (or failed to), when known. */
    readonly endpoint = '',
  ) {
    super(message);
  }
}

/** A follower was asked for a linearizable operation. The hint may be empty (no leader known). */
export class NotLeaderError extends LeasekvError {
  override name = 'NotLeaderError';
  constructor(
    message: string,
    readonly leaderId: string,
    readonly leaderAddr: string,
    endpoint = '',
  ) {
    super('not_leader', message, endpoint);
  }
}
export class UnavailableError extends LeasekvError {
  override name = 'UnavailableError';
  constructor(
    message: string,
    endpoint = '',
    /** This attempt may have reached the member (server said `leasekv-outcome: unknown`, or the connection failed mid-request). */
    outcomeUnknown = false,
  ) {
    super('unavailable', message, endpoint);
    setOutcomeUnknown(this, outcomeUnknown);
  }
}
/**
 * A node's TLS certificate was refused: it does not verify against the CA given (`tls.ca`; Node's
 * roots without it) or does not name the endpoint's host. Not retried on that endpoint within a
 * call — a certificate does not start verifying by waiting; the call fails at once when every
 * endpoint has refused, instead of retrying until the deadline. Nothing was sent: `outcomeUnknown`
 * is false. Still an UnavailableError (code `unavailable`) for handlers written before it.
 */
export class CertificateError extends UnavailableError {
  override name = 'CertificateError';
  constructor(message: string, endpoint = '') {
    super(message, endpoint, false);
  }
}
export class DeadlineExceededError extends LeasekvError {
  override name = 'DeadlineExceededError';
  constructor(message: string, endpoint = '') {
    super('deadline_exceeded', message, endpoint);
  }
}
export class InvalidArgumentError extends LeasekvError {
  override name = 'InvalidArgumentError';
  constructor(message: string, endpoint = '') {
    super('invalid_argument', message, endpoint);
  }
}
export class ResourceExhaustedError extends LeasekvError {
  override name = 'ResourceExhaustedError';
  constructor(message: string, endpoint = '') {
    super('resource_exhausted', message, endpoint);
  }
}
/**
 * An answer over the server's --max-response-bytes (docs/api.md, "Limits"): not retried, since the
 * same request gets the same refusal. Read in pages instead (LeasekvClient.scan does), asking for at
 * most `keysThatFit` keys; or ask for keysOnly / countOnly. A transaction refused so may still have
 * been applied: the message says so (with its revision).
 */
export class AnswerTooLargeError extends ResourceExhaustedError {
  override name = 'AnswerTooLargeError';
  constructor(
    message: string,
    /** Keys that fitted under the cap (the page size to ask for next). */
    readonly keysThatFit: number,
    endpoint = '',
  ) {
    super(message, endpoint);
  }
}
/** The cluster forgot this client's session; whether the write applied is unknown. */
export class SessionExpiredError extends LeasekvError {
  override name = 'SessionExpiredError';
  constructor(message: string, endpoint = '') {
    super('session_expired', message, endpoint);
  }
}

/** A watch asked for revisions no member holds any more (docs/api.md, "Watch"): re-read, then watch from the read's revision. */
export class CompactedError extends LeasekvError {
  override name = 'CompactedError';
  constructor(message: string, endpoint = '') {
    super('compacted', message, endpoint);
  }
}

/**
 * A membership change or leadership transfer refused by the leader (docs/api.md, "Cluster"):
 * `reason` is the core's, e.g. `already-member`. `transient`: it passes within a few heartbeats
 * (the client retries those until the deadline); the others are answers, thrown at once.
 */
export class ChangeRefusedError extends LeasekvError {
  override name = 'ChangeRefusedError';
  constructor(
    message: string,
    readonly reason: string,
    endpoint = '',
  ) {
    super('failed_precondition', message, endpoint);
  }

  get transient(): boolean {
    return TRANSIENT_REFUSALS.has(this.reason);
  }
}

/** Refusals that pass by themselves: a change in flight, a lease not yet re-confirmed, a member catching up. */
const TRANSIENT_REFUSALS: ReadonlySet<string> = new Set([
  'change-in-flight',
  'lease-not-confirmed',
  'learner-not-caught-up',
  'not-caught-up',
]);

/** The server's refusal message: `membership change refused (REASON): …` (docs/api.md, "Cluster"). */
const REFUSAL_RE = /^membership change refused \(([a-z-]+)\)/;

/** What a write's error message ends with when its outcome is unknown. */
export const OUTCOME_UNKNOWN_NOTE = 'outcome unknown: the write may or may not have been applied';

/** Sets `outcomeUnknown` (readonly to the application; only the client decides it). */
export function setOutcomeUnknown(err: LeasekvError, unknown: boolean): void {
  (err as { outcomeUnknown: boolean }).outcomeUnknown = unknown;
}

/**
 * The error a call ends with, its `outcomeUnknown` decided for the whole call (caller.ts): for a
 * write, whether any attempt may have reached a member (its message then says so); for a read, false.
 */
export function withOutcome(err: LeasekvError, unknown: boolean): LeasekvError {
  setOutcomeUnknown(err, unknown);
  if (unknown && !err.message.includes(OUTCOME_UNKNOWN_NOTE)) err.message = `${err.message}; ${OUTCOME_UNKNOWN_NOTE}`;
  return err;
}

/**
 * Whether the attempt that failed with `err` may have reached a member without a definite answer:
 * the transport or server said so, the server's deadline passed (a write it may have proposed), or
 * the session table forgot this client.
 */
export function mayHaveReached(err: LeasekvError): boolean {
  return err.outcomeUnknown || err instanceof DeadlineExceededError || err instanceof SessionExpiredError;
}

/** Builds the typed error for a non-200 answer: Connect error JSON + leasekv headers. */
export function errorFromAnswer(
  endpoint: string,
  httpStatus: number,
  body: string,
  header: (name: string) => string | undefined,
): LeasekvError {
  let code = '';
  let message = '';
  try {
    const j = JSON.parse(body) as { code?: unknown; message?: unknown } | null;
    if (typeof j?.code === 'string') code = j.code;
    if (typeof j?.message === 'string') message = j.message;
  } catch {
    // not JSON: code stays ''
  }
  // Every leasekv answer that is not 200 is a Connect error (JSON with a code). Anything else comes
  // from something else listening there — another HTTP server, a proxy — so this endpoint cannot
  // answer, but another may: unavailable (tried elsewhere until the deadline), saying so; it used
  // to be `internal`, thrown at once, so one wrong endpoint in the list broke every call that began there.
  if (code === '') {
    const type = header('content-type');
    return new UnavailableError(
      `${endpoint}: HTTP ${httpStatus}${type === undefined ? '' : ` (${type})`} is not a leasekv answer ` +
        `(is this a leasekv client port?): ${JSON.stringify(body.slice(0, 200))}`,
      endpoint,
      // A proxy's bad gateway / gateway timeout: the request may have reached a node behind it.
      httpStatus === 502 || httpStatus === 504,
    );
  }
  const at = `${endpoint}: ${message || code}`;
  switch (code) {
    case 'failed_precondition': {
      const refused = REFUSAL_RE.exec(message);
      if (refused !== null) return new ChangeRefusedError(at, refused[1] as string, endpoint);
      // Plaintext to a TLS port (server/api/front.ts): no other node will answer otherwise.
      if (message.startsWith('this port requires TLS')) return new LeasekvError('failed_precondition', at, endpoint);
      return new NotLeaderError(at, header('leasekv-leader') ?? '', header('leasekv-leader-addr') ?? '', endpoint);
    }
    case 'unavailable':
      return new UnavailableError(at, endpoint, header('leasekv-outcome') === 'unknown');
    case 'deadline_exceeded':
      return new DeadlineExceededError(at, endpoint);
    case 'invalid_argument':
      return new InvalidArgumentError(at, endpoint);
    case 'out_of_range':
      return message.startsWith('compacted')
        ? new CompactedError(at, endpoint)
        : new InvalidArgumentError(at, endpoint);
    case 'resource_exhausted':
      return message.startsWith('answer too large')
        ? new AnswerTooLargeError(at, Number(header('leasekv-keys-that-fit') ?? 0) || 0, endpoint)
        : new ResourceExhaustedError(at, endpoint);
    case 'aborted':
      return new SessionExpiredError(at, endpoint);
    case 'unimplemented':
      return new LeasekvError('unimplemented', at, endpoint);
    case 'canceled':
      return new LeasekvError('canceled', at, endpoint);
    case 'not_found':
    case 'unauthenticated':
    case 'permission_denied':
    case 'already_exists':
      return new LeasekvError(code, at, endpoint);
    default:
      if (httpStatus === 502 || httpStatus === 503 || httpStatus === 504) return new UnavailableError(at, endpoint);
      return new LeasekvError('internal', at, endpoint);
  }
}
