// A rate limit on Authenticate (issue 15; docs/security.md "Limits on Authenticate"). Each attempt
// costs a scrypt hash (tens of ms of a libuv thread-pool thread, which the node shares with its file
// I/O), so a flood of guesses must be refused before it hashes: at most `perSec` attempts per second
// on this node and `perSourcePerSec` from one source address, in fixed one-second windows (like the
// client port's new-connection limits, api/front.ts). Past either, Authenticate answers
// resource_exhausted at once, without hashing.
import { Code, ConnectError } from '@connectrpc/connect';

export interface AttemptLimits {
  /** Authenticate attempts admitted per second on this node (--auth-attempts-per-sec). */
  readonly authAttemptsPerSec: number;
  /** Authenticate attempts admitted per second from one source address (--auth-attempts-per-source-per-sec). */
  readonly authAttemptsPerSourcePerSec: number;
}

export class AttemptLimiter {
  #windowStartMs: number;
  #inWindow = 0;
  /** Admitted attempts per source in this window: at most authAttemptsPerSec entries (cleared each window). */
  readonly #bySource = new Map<string, number>();

  constructor(
    private readonly limits: AttemptLimits,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.#windowStartMs = nowMs();
  }

  /** Counts an attempt from `source`, or throws resource_exhausted (counting nothing) past a limit. */
  admit(source: string): void {
    const now = this.nowMs();
    if (now - this.#windowStartMs >= 1000) {
      this.#windowStartMs = now;
      this.#inWindow = 0;
      this.#bySource.clear();
    }
    const mine = this.#bySource.get(source) ?? 0;
    if (mine >= this.limits.authAttemptsPerSourcePerSec)
      throw new ConnectError(
        `too many Authenticate attempts from ${source || 'this address'}: at most ${this.limits.authAttemptsPerSourcePerSec} per second from one address (--auth-attempts-per-source-per-sec); wait a second and try again`,
        Code.ResourceExhausted,
      );
    if (this.#inWindow >= this.limits.authAttemptsPerSec)
      throw new ConnectError(
        `too many Authenticate attempts on this node: at most ${this.limits.authAttemptsPerSec} per second (--auth-attempts-per-sec); wait a second and try again`,
        Code.ResourceExhausted,
      );
    this.#inWindow++;
    this.#bySource.set(source, mine + 1);
  }
}
