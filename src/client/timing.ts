// Time limits, waits and cancellation of the client library: limits validated when given, every
// wait abortable, every call and watch ended by its caller's signal or by close().

/** The longest a Node timer can wait (ms); a longer one fires at once (TimeoutOverflowWarning). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1 - 1000; // less a second for the margins added to it (transport.ts)

/** A time limit (ms): positive, finite and within a timer's range, else RangeError naming `name`. */
export function timeoutMs(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_TIMEOUT_MS)
    throw new RangeError(
      `LeasekvClient: ${name} must be a positive number of ms up to ${MAX_TIMEOUT_MS}, got ${String(v)}`,
    );
  return v;
}

/** Waits `ms`, or less if `signal` aborts first (then resolves too: the caller looks at the signal). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The calls in flight under each caller's signal, and the one 'abort' listener that ends them all:
 * a signal shared by many concurrent calls (an app's shutdown signal) gets one listener, not one
 * per call (Node warns past 10: MaxListenersExceededWarning), removed when its last call ends.
 */
const underSignal = new WeakMap<AbortSignal, { readonly scopes: Set<CallScope>; readonly onAbort: () => void }>();

function follow(outer: AbortSignal, scope: CallScope): void {
  let entry = underSignal.get(outer);
  if (entry === undefined) {
    const scopes = new Set<CallScope>();
    const onAbort = (): void => {
      for (const s of [...scopes]) s.abort();
    };
    entry = { scopes, onAbort };
    underSignal.set(outer, entry);
    outer.addEventListener('abort', onAbort, { once: true });
  }
  entry.scopes.add(scope);
}

function unfollow(outer: AbortSignal, scope: CallScope): void {
  const entry = underSignal.get(outer);
  if (entry === undefined || !entry.scopes.delete(scope) || entry.scopes.size > 0) return;
  outer.removeEventListener('abort', entry.onAbort);
  underSignal.delete(outer);
}

/**
 * The cancellation of one call or watch: `signal` aborts when the caller's signal does or when the
 * client closes. end() forgets it, and the caller's signal forgets it (see underSignal).
 */
export class CallScope {
  readonly #ctl = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #set: Set<CallScope>;

  constructor(outer: AbortSignal | undefined, set: Set<CallScope>) {
    this.#outer = outer;
    this.#set = set;
    set.add(this);
    if (outer !== undefined) follow(outer, this);
  }

  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  abort(): void {
    this.#ctl.abort();
  }

  end(): void {
    this.#set.delete(this);
    if (this.#outer !== undefined) unfollow(this.#outer, this);
  }
}
