// The part of every request that is not wire format: admission (a bound on requests in flight),
// the deadline, the backend call and the error mapping. Used by the Connect handlers and the fast path.
import { Code, ConnectError, createContextKey } from '@connectrpc/connect';
import type { KvBackend } from '../backend.ts';
import { toConnectError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import type { AuthGate } from '../auth/gate.ts';

/** One client connection's requests in flight (HTTP/1.1 pipelining, HTTP/2 streams). */
export interface ConnShare {
  inFlight: number;
}

/** The request's connection share, as a Connect context value (set by rpc.ts, read by the handlers). */
export const CONN_SHARE = createContextKey<ConnShare | undefined>(undefined, {
  description: 'leasekv connection share',
});

export class ApiCore {
  #inFlight = 0;
  /** Requests refused because maxInFlight was reached (for metrics). */
  rejectedOverload = 0;
  /** Users, roles and tokens (issue 15); undefined: this server never checks (tests, tools). */
  auth: AuthGate | undefined = undefined;

  constructor(
    readonly backend: KvBackend,
    readonly limits: ApiLimits,
    /** Told about errors that are bugs (answered as `internal`), for the node's log. */
    private readonly onInternalError: (err: unknown) => void = () => {},
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  #admit(conn: ConnShare | undefined): void {
    if (this.#inFlight >= this.limits.maxInFlight) {
      this.rejectedOverload++;
      throw new ConnectError(
        `server busy: ${this.limits.maxInFlight} requests in flight; retry with backoff`,
        Code.ResourceExhausted,
      );
    }
    if (conn !== undefined && conn.inFlight >= this.limits.maxInFlightPerConnection) {
      this.rejectedOverload++;
      throw new ConnectError(
        `this connection has ${this.limits.maxInFlightPerConnection} requests in flight (the per-connection share); retry with backoff or use more connections`,
        Code.ResourceExhausted,
      );
    }
  }

  /**
   * Admission and in-flight accounting only, for a call whose deadline the backend applies itself
   * (KvBackend.getQuick: the node on another thread answers at once or within the deadline given).
   * No abort signal, timer or race per request: the lease read's path. Always throws ConnectError.
   */
  async callQuick<T>(fn: () => Promise<T>, conn?: ConnShare): Promise<T> {
    this.#admit(conn);
    this.#inFlight++;
    if (conn !== undefined) conn.inFlight++;
    try {
      return await fn();
    } catch (err) {
      const ce = toConnectError(err);
      if (ce.code === Code.Internal) this.onInternalError(err);
      throw ce;
    } finally {
      this.#inFlight--;
      if (conn !== undefined) conn.inFlight--;
    }
  }

  /**
   * Runs `fn` under admission control and a deadline: min(client deadline, limits.requestDeadlineMs).
   * Invariant: #inFlight counts calls between admission and their answer, so it never exceeds
   * limits.maxInFlight — excess requests are refused at once, never queued (issue 5: back-pressure).
   * Likewise `conn.inFlight` never exceeds limits.maxInFlightPerConnection, so one pipelining or
   * multiplexing connection cannot take the whole budget from the others (issue 13).
   * Always throws ConnectError.
   */
  async call<T>(
    clientSignal: AbortSignal,
    clientTimeoutMs: number | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
    conn?: ConnShare,
  ): Promise<T> {
    this.#admit(conn);
    if (clientSignal.aborted) throw abortReason(clientSignal.reason);
    this.#inFlight++;
    if (conn !== undefined) conn.inFlight++;
    const ctrl = new AbortController();
    const deadlineMs =
      clientTimeoutMs === undefined
        ? this.limits.requestDeadlineMs
        : Math.min(clientTimeoutMs, this.limits.requestDeadlineMs);
    const onClientAbort = (): void => ctrl.abort(abortReason(clientSignal.reason));
    clientSignal.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(
      () => ctrl.abort(new ConnectError(`deadline of ${deadlineMs} ms exceeded`, Code.DeadlineExceeded)),
      deadlineMs,
    );
    // A backend that ignores its signal still cannot hold the answer past the deadline.
    const aborted = new Promise<never>((_, reject) => {
      ctrl.signal.addEventListener('abort', () => reject(abortReason(ctrl.signal.reason)), { once: true });
    });
    try {
      return await Promise.race([fn(ctrl.signal), aborted]);
    } catch (err) {
      const ce = toConnectError(err);
      if (ce.code === Code.Internal) this.onInternalError(err);
      throw ce;
    } finally {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClientAbort);
      this.#inFlight--;
      if (conn !== undefined) conn.inFlight--;
    }
  }
}

function abortReason(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError('request canceled by the client', Code.Canceled);
}
