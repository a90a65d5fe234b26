// Bounds a promise by a deadline and an abort signal, so that no client request can hang.

/** Resolves or rejects like `p`, unless `timeoutMs` passes or `signal` aborts first. */
export function withDeadline<T>(
  p: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal,
  onTimeout: () => Error,
): Promise<T> {
  if (signal.aborted) return Promise.reject(onTimeout());
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(onTimeout())), timeoutMs);
    const onAbort = (): void => finish(() => reject(onTimeout()));
    signal.addEventListener('abort', onAbort, { once: true });
    let done = false;
    function finish(then: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      then();
    }
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}
