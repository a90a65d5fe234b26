// Limits of the client API (issue 5: "bad input gets a clear error code and the node keeps serving").
// Every limit is validated once, here, when the server starts.

export interface ApiLimits {
  /** Largest key, in UTF-8 bytes. */
  readonly maxKeyBytes: number;
  /** Largest value, in UTF-8 bytes. */
  readonly maxValueBytes: number;
  /** Largest request body accepted at all (JSON escaping can make a body several times the value). */
  readonly maxRequestBytes: number;
  /** Range: the limit used when a request says 0, and the largest limit a request may ask for. */
  readonly defaultRangeLimit: number;
  readonly maxRangeLimit: number;
  /** Requests being answered at once; beyond it new requests get resource_exhausted (back-pressure). */
  readonly maxInFlight: number;
  /** Deadline for a request whose client sent none (or a longer one). */
  readonly requestDeadlineMs: number;
  /** A client connection with no traffic for this long is closed. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  maxKeyBytes: 4 * 1024,
  maxValueBytes: 1024 * 1024,
  maxRequestBytes: 8 * 1024 * 1024,
  defaultRangeLimit: 1000,
  maxRangeLimit: 10_000,
  maxInFlight: 1024,
  requestDeadlineMs: 10_000,
  idleTimeoutMs: 120_000,
};

export class ApiLimitsError extends Error {
  override readonly name = 'ApiLimitsError';
}

/** Fills defaults and checks every limit; throws ApiLimitsError naming the bad one. */
export function resolveLimits(partial: Partial<ApiLimits> = {}): ApiLimits {
  const l: ApiLimits = { ...DEFAULT_LIMITS, ...partial };
  const positive = (name: keyof ApiLimits, max: number): void => {
    const v = l[name];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) {
      throw new ApiLimitsError(`api limit ${name} must be an integer in 1..${max}, got ${String(v)}`);
    }
  };
  positive('maxKeyBytes', 64 * 1024);
  positive('maxValueBytes', 64 * 1024 * 1024);
  positive('maxRequestBytes', 512 * 1024 * 1024);
  positive('defaultRangeLimit', 1_000_000);
  positive('maxRangeLimit', 1_000_000);
  positive('maxInFlight', 1_000_000);
  positive('requestDeadlineMs', 24 * 3600 * 1000);
  positive('idleTimeoutMs', 24 * 3600 * 1000);
  if (l.defaultRangeLimit > l.maxRangeLimit) {
    throw new ApiLimitsError(`api limit defaultRangeLimit (${l.defaultRangeLimit}) exceeds maxRangeLimit (${l.maxRangeLimit})`);
  }
  if (l.maxRequestBytes < l.maxKeyBytes + l.maxValueBytes) {
    throw new ApiLimitsError(`api limit maxRequestBytes (${l.maxRequestBytes}) must be at least maxKeyBytes + maxValueBytes`);
  }
  return l;
}
