// Assertions: for programmer errors only (a broken invariant, a state the code believes impossible),
// which crash loudly. Operating errors (bad input, a full disk, a peer gone) get typed errors that
// callers handle. The one helper every layer uses, the consensus core included: pure, imports nothing.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** Crashes loudly on a programmer error. Pass a function for messages that cost to build (hot paths). */
export function assert(cond: boolean, msg: string | (() => string)): asserts cond {
  if (!cond) throw new AssertionError(typeof msg === 'string' ? msg : msg());
}

/** Marks a branch the types prove unreachable (an exhaustive switch's default). */
export function unreachable(x: never, what = 'value'): never {
  throw new AssertionError(`unreachable: unexpected ${what} ${JSON.stringify(x)}`);
}
