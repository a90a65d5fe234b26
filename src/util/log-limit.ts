// At most one log line per key and interval (issue 15: a refused peer redials several times a
// second, and each refusal was logged on both sides). The lines held back are counted and reported
// with the next line of the same key.

/** Keys remembered at most; older ones are forgotten first (bounded memory under a flood of sources). */
const MAX_KEYS = 1024;

export class LogLimiter {
  readonly #last = new Map<string, { atMs: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** null: stay silent (counted); else log now, with the number of lines held back since the last one. */
  take(key: string): number | null {
    const now = this.nowMs();
    const e = this.#last.get(key);
    if (e !== undefined && now - e.atMs < this.intervalMs) {
      e.held++;
      return null;
    }
    const held = e?.held ?? 0;
    this.#last.delete(key);
    if (this.#last.size >= MAX_KEYS) {
      const oldest = this.#last.keys().next();
      if (oldest.done !== true) this.#last.delete(oldest.value);
    }
    this.#last.set(key, { atMs: now, held: 0 });
    return held;
  }

  /** Forget `key` (the condition ended: the next occurrence is news and is logged at once). */
  reset(key: string): void {
    this.#last.delete(key);
  }
}
