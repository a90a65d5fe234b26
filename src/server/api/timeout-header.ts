// Client deadlines longer than a timer can hold (session 9 audit). Connect arms its deadline signal
// with setTimeout(timeoutMs), and Node fires a delay above 2^31-1 ms (~24.8 days) after 1 ms instead
// (TimeoutOverflowWarning): a gRPC client with a 30-day deadline, or `connect-timeout-ms: 9999999999`,
// got deadline_exceeded on every call that was not answered within 1 ms. Such a deadline is clamped
// to the longest a timer can wait before Connect reads it; every unary call has the server's own
// deadline (requestDeadlineMs) anyway, so only a watch stream could ever wait that long.

/** The longest delay setTimeout honours (a signed 32-bit count of ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const CONNECT_TIMEOUT = 'connect-timeout-ms';
const GRPC_TIMEOUT = 'grpc-timeout';
const CONNECT_RE = /^\d{1,10}$/;
const GRPC_RE = /^(\d{1,8})([HMSmun])$/;
const GRPC_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
/** MAX_TIMER_MS in grpc-timeout's syntax (at most 8 digits), rounded down to whole seconds. */
const GRPC_MAX = `${Math.floor(MAX_TIMER_MS / 1000)}S`;

/** Rewrites a connect-timeout-ms or grpc-timeout above MAX_TIMER_MS to it; malformed values are left for Connect to refuse. */
export function clampTimeoutHeaders(header: Headers): void {
  const c = header.get(CONNECT_TIMEOUT);
  if (c !== null && CONNECT_RE.test(c) && Number(c) > MAX_TIMER_MS) header.set(CONNECT_TIMEOUT, String(MAX_TIMER_MS));
  const g = header.get(GRPC_TIMEOUT);
  if (g === null) return;
  const m = GRPC_RE.exec(g);
  if (m !== null && Number(m[1]) * GRPC_UNIT_MS[m[2]!]! > MAX_TIMER_MS) header.set(GRPC_TIMEOUT, GRPC_MAX);
}
