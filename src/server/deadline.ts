// Bounds a promise by a deadline and an abort signal, so that no client request can hang.

/**
 * Resolves or rejects like `p`, unless `timeoutMs` passes or `signal` aborts first (rejecting with
 * onTimeout(), or onAbort() when given and the signal aborted). Without a signal: the deadline only.
 */
export function withDeadline<T>(
  p: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  onTimeout: () => Error,
  onAbort: () => Error = onTimeout,
): Promise<T> {
  if (signal?.aborted === true) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(onTimeout())), timeoutMs);
    const aborted = (): void => finish(() => reject(onAbort()));
    signal?.addEventListener('abort', aborted, { once: true });
    let done = false;
    function finish(then: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      then();
    }
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}
