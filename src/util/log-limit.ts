// At most one log line per key and interval (issue 15: a refused peer redials several times a
// second, and each refusal was logged on both sides; a client retrying a wrong token or a flood of
// plaintext connections would do the same). The lines held back are counted and reported with the
// next line of the same key: "refused peer connection (37 more in the last 61 s)". Every
// rate-limited line of a node goes through LimitedLog, so they all read alike.

/** Keys remembered at most; older ones are forgotten first (bounded memory under a flood of sources). */
const MAX_KEYS = 1024;

/** What take() says when a line may be written: how many were held back since the last one, over how long. */
export interface Taken {
  readonly held: number;
  readonly sinceMs: number;
}

export class LogLimiter {
  readonly #last = new Map<string, { atMs: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** null: stay silent (counted); else log now, with the number of lines held back since the last one. */
  take(key: string): number | null {
    return this.takeTimed(key)?.held ?? null;
  }

  /** As take(), with the time since the last line of this key (0 for the first). */
  takeTimed(key: string): Taken | null {
    const now = this.nowMs();
    const e = this.#last.get(key);
    if (e !== undefined && now - e.atMs < this.intervalMs) {
      e.held++;
      return null;
    }
    const taken = { held: e?.held ?? 0, sinceMs: e === undefined ? 0 : now - e.atMs };
    this.#last.delete(key);
    if (this.#last.size >= MAX_KEYS) {
      const oldest = this.#last.keys().next();
      if (oldest.done !== true) this.#last.delete(oldest.value);
    }
    this.#last.set(key, { atMs: now, held: 0 });
    return taken;
  }

  /** Forget `key` (the condition ended: the next occurrence is news and is logged at once). */
  reset(key: string): void {
    this.#last.delete(key);
  }

  /** Forget every key. */
  clear(): void {
    this.#last.clear();
  }
}

/** The subset of a (pino) logger a LimitedLog writes to. */
export interface WarnSink {
  warn(obj: object, msg?: string): void;
}

/**
 * A logger's warn(), at most once per key and interval. A line that follows held-back ones says how
 * many, in its message and in the field `heldBack`. Keys name the source and the cause (say
 * `${host} ${reason}`), so one noisy source cannot hide another.
 */
export class LimitedLog {
  readonly #limiter: LogLimiter;

  constructor(
    private readonly sink: WarnSink | undefined,
    intervalMs: number,
    nowMs?: () => number,
  ) {
    this.#limiter = new LogLimiter(intervalMs, nowMs);
  }

  /** Writes the line unless one of `key` was written within the interval; returns whether it wrote. */
  warn(key: string, fields: object, msg: string): boolean {
    const t = this.#limiter.takeTimed(key);
    if (t === null) return false;
    if (t.held === 0) this.sink?.warn(fields, msg);
    else
      this.sink?.warn(
        { ...fields, heldBack: t.held },
        `${msg} (${t.held} more in the last ${Math.max(1, Math.round(t.sinceMs / 1000))} s)`,
      );
    return true;
  }

  /** The condition of `key` ended: its next line is written at once. */
  reset(key: string): void {
    this.#limiter.reset(key);
  }

  /** Start over for every key (e.g. a peer link that connected again). */
  clear(): void {
    this.#limiter.clear();
  }
}
