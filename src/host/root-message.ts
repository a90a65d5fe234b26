// What a node logs of a storage error.

/** The innermost message of an error chain (a storage error arrives wrapped: PersisterFailedError → the fs error). */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 8 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
