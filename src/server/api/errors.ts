// Backend errors → Connect/gRPC status codes (docs/api.md "Errors"). One mapping, used by the Connect
// handlers and by the HTTP/1.1 JSON fast path, so both answer alike.
import { Code, ConnectError } from '@connectrpc/connect';
import {
  InvalidArgumentError,
  NotLeaderError,
  OutcomeUnknownError,
  DeadlineExceededError,
  OverloadedError,
  SessionExpiredError,
  TtlNotFoundError,
  FutureRevisionError,
  UnavailableError,
} from '../backend.ts';
import { CompactedError, TooManyWatchersError, WatcherClosedError, WatcherTooSlowError } from '../watch/hub.ts';
import { ChangeRefusedError } from '../cluster-backend.ts';
import { AuthRefusedError } from '../auth/backend.ts';
import { AnswerTooLargeError } from '../../kv/range.ts';

/** Response header (Connect, gRPC-Web) / trailer (gRPC) naming the leader on a not-leader error. */
export const LEADER_HEADER = 'leasekv-leader';
export const LEADER_ADDR_HEADER = 'leasekv-leader-addr';
/** Set to "unknown" when a write may or may not have been applied (OutcomeUnknownError). */
export const OUTCOME_HEADER = 'leasekv-outcome';
/**
 * On resource_exhausted "answer too large": how many keys fitted under --max-response-bytes (the
 * page size to ask for next; the client library reads it).
 */
export const KEYS_THAT_FIT_HEADER = 'leasekv-keys-that-fit';
/** On a watch's out_of_range ("compacted") error: the oldest revision the member still holds. */
export const COMPACT_REVISION_HEADER = 'leasekv-compact-revision';

/**
 * Every typed error a backend throws, by class name: toConnectError maps them, and the client API
 * thread rebuilds them from what the node's thread sent (api-thread/remote.ts decodeError).
 */
export const TYPED_ERRORS: Readonly<Record<string, { prototype: object }>> = {
  NotLeaderError,
  UnavailableError,
  OverloadedError,
  InvalidArgumentError,
  SessionExpiredError,
  FutureRevisionError,
  TtlNotFoundError,
  OutcomeUnknownError,
  DeadlineExceededError,
  CompactedError,
  WatcherTooSlowError,
  TooManyWatchersError,
  WatcherClosedError,
  ChangeRefusedError,
  AuthRefusedError,
  AnswerTooLargeError,
};

export function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * NotLeader → failed_precondition (+ leader headers); Unavailable → unavailable; Overloaded and
 * AnswerTooLarge (+ leasekv-keys-that-fit) → resource_exhausted; SessionExpired → aborted (the session table forgot this client: the caller
 * cannot tell whether its write applied and must start a new session); OutcomeUnknown →
 * unavailable with `leasekv-outcome: unknown` (retrying with the same session seq is safe; retrying
 * without a session may apply twice). Anything else is a bug: internal.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof NotLeaderError) {
    const meta: Record<string, string> = {};
    if (err.leaderId !== '') meta[LEADER_HEADER] = err.leaderId;
    if (err.leaderClientAddr !== '') meta[LEADER_ADDR_HEADER] = err.leaderClientAddr;
    return new ConnectError(err.message, Code.FailedPrecondition, meta);
  }
  if (err instanceof ChangeRefusedError)
    return new ConnectError(`membership change refused (${err.reason}): ${err.message}`, Code.FailedPrecondition);
  if (err instanceof AuthRefusedError) {
    const code = /already/.test(err.message)
      ? Code.AlreadyExists
      : /^no such/.test(err.message)
        ? Code.NotFound
        : Code.InvalidArgument;
    return new ConnectError(err.message, code);
  }
  if (err instanceof UnavailableError) return new ConnectError(err.message, Code.Unavailable);
  if (err instanceof OverloadedError) return new ConnectError(err.message, Code.ResourceExhausted);
  // Not retryable as it is (Overloaded is): the message says how to page.
  if (err instanceof AnswerTooLargeError)
    return new ConnectError(err.message, Code.ResourceExhausted, { [KEYS_THAT_FIT_HEADER]: String(err.keysThatFit) });
  if (err instanceof InvalidArgumentError) return new ConnectError(err.message, Code.InvalidArgument);
  if (err instanceof SessionExpiredError) return new ConnectError(`session expired: ${err.message}`, Code.Aborted);
  if (err instanceof FutureRevisionError) return new ConnectError(err.message, Code.OutOfRange);
  if (err instanceof TtlNotFoundError) return new ConnectError(err.message, Code.NotFound);
  if (err instanceof CompactedError)
    return new ConnectError(`compacted: ${err.message}`, Code.OutOfRange, {
      [COMPACT_REVISION_HEADER]: String(err.oldest),
    });
  if (err instanceof WatcherTooSlowError || err instanceof TooManyWatchersError)
    return new ConnectError(err.message, Code.ResourceExhausted);
  if (err instanceof WatcherClosedError) return new ConnectError(err.message, Code.Unavailable);
  if (err instanceof DeadlineExceededError) return new ConnectError(err.message, Code.DeadlineExceeded);
  if (err instanceof OutcomeUnknownError) {
    return new ConnectError(`outcome unknown: ${err.message}`, Code.Unavailable, { [OUTCOME_HEADER]: 'unknown' });
  }
  return new ConnectError(err instanceof Error ? `internal error: ${err.message}` : 'internal error', Code.Internal);
}

/**
 * A grpc-message header value as the gRPC spec writes it: percent-encoding only for bytes outside
 * 0x20–0x7E and for '%' itself. encodeURIComponent also encodes ':', ';', ',' and '/', which
 * grpc-js (decodeURI) leaves encoded: "limit%3B" instead of "limit;".
 */
export function grpcMessageHeader(message: string): string {
  let out = '';
  for (const b of Buffer.from(message, 'utf8'))
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
