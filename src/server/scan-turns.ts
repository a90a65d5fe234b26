// Turns of scanning on the node's thread (session 12 audit). A Range is answered by a scan of the
// store on the thread that keeps the lease; a count_only Range scanned every key in its range (200,000
// keys: ~40–120 ms; since session 13 it counts by pages, ~0.01 ms, but a keys_only Range of 10,000
// keys still reads them all), and a source may have hundreds in flight. They arrive from the API thread in
// one batch and their barriers resolve together, so every scan ran back to back in one task: 64
// clients repeating count_only over 200,000 keys stalled the node's thread for 9.9 s
// (leasekv_consensus_loop_lag_max_seconds), another client's Put took 8.8 s, and a leader would
// have lost its lease and its followers elected another. So scans run in turns: once the scans of
// one turn of the event loop have taken budgetMs, the next waits (in arrival order) for a later turn,
// and heartbeats, votes and applies run in between. One scan is not cut: a turn's work is at most
// the budget plus one scan (and the node's timers wait at most two turns: a turn's poll and check
// phases). Waiting is safe for consistency: the barrier was passed, and the state only moves on.
/** Scan time per turn of the node's event loop: a fifth of the default heartbeat (50 ms). */
export const SCAN_BUDGET_MS_PER_TURN = 10;

export class ScanTurns {
  #spentMs = 0;
  #resetArmed = false;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly budgetMs: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Scans queued for a later turn now (tests, metrics). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `scan` in this turn if its budget is not spent and nobody waits, else in a later one. */
  async run<T>(scan: () => T): Promise<T> {
    if (this.#spentMs >= this.budgetMs || this.#waiting.length > 0)
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const t0 = this.nowMs();
    try {
      return scan();
    } finally {
      this.#spentMs += this.nowMs() - t0;
      this.#next();
    }
  }

  #next(): void {
    if (!this.#resetArmed) {
      this.#resetArmed = true;
      setImmediate(() => {
        this.#resetArmed = false;
        this.#spentMs = 0;
        this.#waiting.shift()?.();
      });
    }
    if (this.#spentMs < this.budgetMs) this.#waiting.shift()?.();
  }
}
