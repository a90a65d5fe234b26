// The part of every request that is not wire format: admission (a bound on requests in flight),
// the deadline, the backend call and the error mapping. Used by the Connect handlers and the fast path.
import { Code, ConnectError, createContextKey } from '@connectrpc/connect';
import type { KvBackend } from '../backend.ts';
import { toConnectError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import type { AuthGate } from '../auth/gate.ts';
import { Admission, type ConnShare } from './admission.ts';
import { AnswerBudget } from './answer-budget.ts';

export type { ConnShare } from './admission.ts';

/** The request's connection share, as a Connect context value (set by rpc.ts, read by the handlers). */
export const CONN_SHARE = createContextKey<ConnShare | undefined>(undefined, {
  description: 'leasekv connection share',
});

export class ApiCore {
  readonly #admission: Admission;
  /** Answer bytes of Range and Txn calls being built at once (answer-budget.ts). */
  readonly answers: AnswerBudget;
  /** Users, roles and tokens (issue 15); undefined: this server never checks (tests, tools). */
  auth: AuthGate | undefined = undefined;

  constructor(
    readonly backend: KvBackend,
    readonly limits: ApiLimits,
    /** Told about errors that are bugs (answered as `internal`), for the node's log. */
    private readonly onInternalError: (err: unknown) => void = () => {},
  ) {
    this.#admission = new Admission(limits);
    this.answers = new AnswerBudget(limits.maxPendingResponseBytes);
  }

  get inFlight(): number {
    return this.#admission.inFlight;
  }

  /** The in-flight budget and its shares (admission.ts). */
  get admission(): Admission {
    return this.#admission;
  }

  /** Requests refused with resource_exhausted by the in-flight budget or a share of it (for metrics). */
  get rejectedOverload(): number {
    return this.#admission.refused;
  }

  /**
   * Admission and in-flight accounting only, for a call whose deadline the backend applies itself
   * (KvBackend.getQuick: the node on another thread answers at once or within the deadline given).
   * No abort signal, timer or race per request: the lease read's path. Always throws ConnectError.
   */
  async callQuick<T>(fn: () => Promise<T>, conn?: ConnShare): Promise<T> {
    this.#admission.enter(conn);
    try {
      return await fn();
    } catch (err) {
      const ce = toConnectError(err);
      if (ce.code === Code.Internal) this.onInternalError(err);
      throw ce;
    } finally {
      this.#admission.leave(conn);
    }
  }

  /**
   * Runs `fn` under admission control and a deadline: min(client deadline, limits.requestDeadlineMs).
   * Invariant: the in-flight count covers calls between admission and their answer, so it never
   * exceeds limits.maxInFlight — excess requests are refused at once, never queued (issue 5:
   * back-pressure); the per-connection, per-source and fair shares (admission.ts) keep one
   * connection or one source from taking the budget from the others (issue 13).
   * Always throws ConnectError.
   */
  async call<T>(
    clientSignal: AbortSignal,
    clientTimeoutMs: number | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
    conn?: ConnShare,
  ): Promise<T> {
    if (clientSignal.aborted) throw abortReason(clientSignal.reason);
    this.#admission.enter(conn);
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
      this.#admission.leave(conn);
    }
  }
}

function abortReason(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError('request canceled by the client', Code.Canceled);
}
