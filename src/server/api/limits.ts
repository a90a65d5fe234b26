// Limits of the client API (issue 5: "bad input gets a clear error code and the node keeps serving";
// issue 13: limits before work, so that no client can take the node's time from lease keeping).
// Every limit is validated once, here, when the server starts.
import { RANGE_KV_OVERHEAD_BYTES } from '../../kv/range.ts';

export interface ApiLimits {
  /** Largest key, in UTF-8 bytes. */
  readonly maxKeyBytes: number;
  /** Largest value, in UTF-8 bytes. */
  readonly maxValueBytes: number;
  /** Largest request body accepted at all (JSON escaping can make a body several times the value). */
  readonly maxRequestBytes: number;
  /** Deepest nesting of JSON arrays/objects in a request body, checked before parsing (requests need 1). */
  readonly maxJsonDepth: number;
  /**
   * Largest answer of a Range or Txn, in bytes as counted by kv/range.ts (each key and value in UTF-8
   * plus RANGE_KV_OVERHEAD_BYTES): a bigger one is refused with resource_exhausted, and the client
   * pages (limit, start_key) or asks for keys_only / count_only. Default 3 MiB: the answer then fits
   * the 4 MiB that gRPC clients (grpc-go, grpc-js, grpc-java) accept by default, with room for its
   * framing; and the answers in flight on a node are bounded by this × maxInFlight, not × 10 GB.
   * At least one key and value of the largest sizes, so a page of one key can always be read.
   */
  readonly maxResponseBytes: number;
  /**
   * Answer bytes of Range and Txn calls being built at once on this node, each call counted at the
   * most its answer may hold (answer-budget.ts); a call past it is refused with resource_exhausted,
   * retryable. Default 128 MiB: 42 answers of the largest size at once, 128 transactions with a get
   * of a 1 MiB value; at least maxResponseBytes.
   */
  readonly maxPendingResponseBytes: number;
  /** Range: the limit used when a request says 0, and the largest limit a request may ask for. */
  readonly defaultRangeLimit: number;
  readonly maxRangeLimit: number;
  /** Requests being answered at once; beyond it new requests get resource_exhausted (back-pressure). */
  readonly maxInFlight: number;
  /**
   * Requests being answered at once on ONE connection (HTTP/1.1 pipelining, HTTP/2 streams): one
   * connection cannot take the whole maxInFlight budget from the others. Default max(8, maxInFlight/8).
   */
  readonly maxInFlightPerConnection: number;
  /**
   * Requests being answered at once from ONE source address, over all its connections: one client
   * opening many connections cannot take the budget from the others; beyond half the budget, a
   * source is also held to its fair share (admission.ts). Default max(8, maxInFlight/4).
   */
  readonly maxInFlightPerSource: number;
  /**
   * Requests one source address may start in one turn of the event loop while another source is
   * present; beyond it, its connections are not read until the next turn (read-turns.ts). Bounds
   * how long a flood of cheap requests (lease reads answered from shared memory hold no in-flight
   * slot) makes another source's request wait.
   */
  readonly requestsPerSourcePerTurn: number;
  /** Deadline for a request whose client sent none (or a longer one). */
  readonly requestDeadlineMs: number;
  /** A client connection with no traffic for this long is closed. */
  readonly idleTimeoutMs: number;
  /** HTTP/1.1: a request's headers must arrive within this long of its first byte, else the connection is closed. */
  readonly headersTimeoutMs: number;
  /** HTTP/1.1: a whole request (headers and body) must arrive within this long, else the connection is closed. */
  readonly requestReceiveTimeoutMs: number;
  /** Client connections open at once on this node; more are closed at once. */
  readonly maxConnections: number;
  /** Client connections open at once from one source IP address. */
  readonly maxConnectionsPerSource: number;
  /** New client connections accepted per second from one source IP address (the rest are closed at once). */
  readonly maxNewConnectionsPerSourcePerSec: number;
  /** New client connections accepted per second on this node. */
  readonly maxNewConnectionsPerSec: number;
  /** HTTP/2: streams a connection may reset (RST_STREAM) per second before it is closed ("rapid reset"). */
  readonly maxStreamResetsPerSec: number;
  /**
   * HTTP/2: streams open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2 refuses
   * more with REFUSED_STREAM before any request handling). Node's default is 2^32-1.
   */
  readonly maxConcurrentStreams: number;
  /**
   * Answer bytes handed to one source's connections and not read by it yet (unsent-answers.ts):
   * past it, that source's new requests are refused with resource_exhausted until it reads. At
   * least maxResponseBytes and maxValueBytes, so that one answer of the largest size, read slowly,
   * cannot get its reader refused by itself.
   */
  readonly maxUnsentBytesPerSource: number;
  /** The same, over all sources: past it, every source with bytes unsent is refused. At least maxUnsentBytesPerSource. */
  readonly maxUnsentBytes: number;
}

export const DEFAULT_LIMITS: Omit<ApiLimits, 'maxInFlightPerConnection' | 'maxInFlightPerSource'> = {
  maxKeyBytes: 4 * 1024,
  maxValueBytes: 1024 * 1024,
  maxRequestBytes: 8 * 1024 * 1024,
  maxJsonDepth: 64,
  maxResponseBytes: 3 * 1024 * 1024,
  maxPendingResponseBytes: 128 * 1024 * 1024,
  defaultRangeLimit: 1000,
  maxRangeLimit: 10_000,
  maxInFlight: 1024,
  requestsPerSourcePerTurn: 32,
  requestDeadlineMs: 10_000,
  idleTimeoutMs: 120_000,
  headersTimeoutMs: 10_000,
  requestReceiveTimeoutMs: 60_000,
  maxConnections: 10_000,
  maxConnectionsPerSource: 2_000,
  maxNewConnectionsPerSourcePerSec: 1_000,
  maxNewConnectionsPerSec: 2_000,
  maxStreamResetsPerSec: 200,
  maxConcurrentStreams: 256,
  maxUnsentBytesPerSource: 64 * 1024 * 1024,
  maxUnsentBytes: 256 * 1024 * 1024,
};

/** The default per-connection share of the in-flight budget. */
export function defaultInFlightPerConnection(maxInFlight: number): number {
  return Math.min(maxInFlight, Math.max(8, Math.floor(maxInFlight / 8)));
}

/** The default per-source share of the in-flight budget (never below the per-connection share). */
export function defaultInFlightPerSource(maxInFlight: number, perConnection: number): number {
  return Math.min(maxInFlight, Math.max(8, perConnection, Math.floor(maxInFlight / 4)));
}

export class ApiLimitsError extends Error {
  override readonly name = 'ApiLimitsError';
}

/** Fills defaults and checks every limit; throws ApiLimitsError naming the bad one. */
export function resolveLimits(partial: Partial<ApiLimits> = {}): ApiLimits {
  const base = { ...DEFAULT_LIMITS, ...partial };
  const perConnection = partial.maxInFlightPerConnection ?? defaultInFlightPerConnection(base.maxInFlight);
  const l: ApiLimits = {
    ...base,
    maxInFlightPerConnection: perConnection,
    maxInFlightPerSource: partial.maxInFlightPerSource ?? defaultInFlightPerSource(base.maxInFlight, perConnection),
  };
  const positive = (name: keyof ApiLimits, max: number, min = 1): void => {
    const v = l[name];
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new ApiLimitsError(`api limit ${name} must be an integer in ${min}..${max}, got ${String(v)}`);
    }
  };
  const DAY_MS = 24 * 3600 * 1000;
  positive('maxKeyBytes', 64 * 1024);
  positive('maxValueBytes', 64 * 1024 * 1024);
  positive('maxRequestBytes', 512 * 1024 * 1024);
  positive('maxJsonDepth', 1000, 2);
  positive('maxResponseBytes', 2 ** 31 - 1);
  positive('maxPendingResponseBytes', Number.MAX_SAFE_INTEGER);
  positive('defaultRangeLimit', 1_000_000);
  positive('maxRangeLimit', 1_000_000);
  positive('maxInFlight', 1_000_000);
  positive('maxInFlightPerConnection', 1_000_000);
  positive('maxInFlightPerSource', 1_000_000);
  positive('requestsPerSourcePerTurn', 1_000_000);
  positive('requestDeadlineMs', DAY_MS);
  positive('idleTimeoutMs', DAY_MS);
  positive('headersTimeoutMs', DAY_MS, 10);
  positive('requestReceiveTimeoutMs', DAY_MS, 10);
  positive('maxConnections', 1_000_000);
  positive('maxConnectionsPerSource', 1_000_000);
  positive('maxNewConnectionsPerSourcePerSec', 1_000_000);
  positive('maxNewConnectionsPerSec', 1_000_000);
  positive('maxStreamResetsPerSec', 1_000_000);
  positive('maxConcurrentStreams', 1_000_000);
  positive('maxUnsentBytesPerSource', 2 ** 40);
  positive('maxUnsentBytes', 2 ** 40);
  if (l.defaultRangeLimit > l.maxRangeLimit) {
    throw new ApiLimitsError(
      `api limit defaultRangeLimit (${l.defaultRangeLimit}) exceeds maxRangeLimit (${l.maxRangeLimit})`,
    );
  }
  if (l.maxRequestBytes < l.maxKeyBytes + l.maxValueBytes) {
    throw new ApiLimitsError(
      `api limit maxRequestBytes (${l.maxRequestBytes}) must be at least maxKeyBytes + maxValueBytes`,
    );
  }
  const onePair = l.maxKeyBytes + l.maxValueBytes + RANGE_KV_OVERHEAD_BYTES;
  if (l.maxResponseBytes < onePair) {
    throw new ApiLimitsError(
      `api limit maxResponseBytes (--max-response-bytes ${l.maxResponseBytes}) must be at least maxKeyBytes + maxValueBytes + ${RANGE_KV_OVERHEAD_BYTES} (${onePair}): an answer must hold one key of the largest size`,
    );
  }
  if (l.maxPendingResponseBytes < l.maxResponseBytes) {
    throw new ApiLimitsError(
      `api limit maxPendingResponseBytes (--max-pending-response-bytes ${l.maxPendingResponseBytes}) must be at least maxResponseBytes (${l.maxResponseBytes})`,
    );
  }
  const largestAnswer = Math.max(l.maxResponseBytes, l.maxValueBytes);
  if (l.maxUnsentBytesPerSource < largestAnswer) {
    throw new ApiLimitsError(
      `api limit maxUnsentBytesPerSource (--max-unsent-bytes-per-source ${l.maxUnsentBytesPerSource}) must be at least the largest answer, max(maxResponseBytes, maxValueBytes) (${largestAnswer}): one answer read slowly would get its reader refused`,
    );
  }
  if (l.maxUnsentBytes < l.maxUnsentBytesPerSource) {
    throw new ApiLimitsError(
      `api limit maxUnsentBytes (--max-unsent-bytes ${l.maxUnsentBytes}) must be at least maxUnsentBytesPerSource (${l.maxUnsentBytesPerSource})`,
    );
  }
  if (l.maxInFlightPerSource > l.maxInFlight) {
    throw new ApiLimitsError(
      `api limit maxInFlightPerSource (${l.maxInFlightPerSource}) exceeds maxInFlight (${l.maxInFlight})`,
    );
  }
  if (l.maxInFlightPerConnection > l.maxInFlightPerSource) {
    throw new ApiLimitsError(
      `api limit maxInFlightPerConnection (${l.maxInFlightPerConnection}) exceeds maxInFlightPerSource (${l.maxInFlightPerSource})`,
    );
  }
  if (l.headersTimeoutMs > l.requestReceiveTimeoutMs) {
    throw new ApiLimitsError(
      `api limit headersTimeoutMs (${l.headersTimeoutMs}) exceeds requestReceiveTimeoutMs (${l.requestReceiveTimeoutMs})`,
    );
  }
  if (l.maxConnectionsPerSource > l.maxConnections) {
    throw new ApiLimitsError(
      `api limit maxConnectionsPerSource (${l.maxConnectionsPerSource}) exceeds maxConnections (${l.maxConnections})`,
    );
  }
  return l;
}
