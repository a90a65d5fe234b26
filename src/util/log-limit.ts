// At most one log line per key and interval (issue 15: a refused peer redials several times a
// second, and each refusal was logged on both sides; a client retrying a wrong token or a flood of
// plaintext connections would do the same). The lines held back are counted and reported when the
// key's interval ends — by the next line of the same key, or else by a timer (unref'd: it never keeps
// a process alive) — "refused peer connection (37 more in the last 60 s)", so a count is not lost
// when the refusals stop. Every rate-limited line of a node goes through LimitedLog, so they all read
// alike.

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

  /**
   * The lines of `key` held back, if any, once its interval is over: they are then reported (by the
   * caller) as a line of their own, which starts a new interval. null otherwise.
   */
  drain(key: string): Taken | null {
    const now = this.nowMs();
    const e = this.#last.get(key);
    if (e === undefined || e.held === 0 || now - e.atMs < this.intervalMs) return null;
    const taken = { held: e.held, sinceMs: now - e.atMs };
    e.atMs = now;
    e.held = 0;
    return taken;
  }

  /** Milliseconds until the interval of `key` ends (≤ 0: it has); null if `key` has nothing held back. */
  dueInMs(key: string): number | null {
    const e = this.#last.get(key);
    return e === undefined || e.held === 0 ? null : e.atMs + this.intervalMs - this.nowMs();
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

/** Runs `fn` once, `ms` from now. */
export type Schedule = (fn: () => void, ms: number) => void;

/** The default Schedule: a timer that does not keep the process alive (a pending count is not worth a hang at exit). */
export const unrefTimer = (fn: () => void, ms: number): NodeJS.Timeout => setTimeout(fn, ms).unref();

/**
 * A logger's warn(), at most once per key and interval. The lines held back are reported when the
 * interval ends, by the next line of the key or else by a line of their own from a timer; either says
 * how many, in its message and in the field `heldBack`. Keys name the source and the cause (say
 * `${host} ${reason}`), so one noisy source cannot hide another.
 */
export class LimitedLog {
  readonly #limiter: LogLimiter;
  /** Keys with lines held back: the last such line's fields and message, for the timer's report. */
  readonly #pending = new Map<string, { fields: object; msg: string }>();
  #armed = false;

  constructor(
    private readonly sink: WarnSink | undefined,
    private readonly intervalMs: number,
    nowMs?: () => number,
    private readonly schedule: Schedule = unrefTimer,
  ) {
    this.#limiter = new LogLimiter(intervalMs, nowMs);
  }

  /** Writes the line unless one of `key` was written within the interval; returns whether it wrote. */
  warn(key: string, fields: object, msg: string): boolean {
    const t = this.#limiter.takeTimed(key);
    if (t === null) {
      this.#pending.delete(key); // re-inserted last: the oldest entries are first
      this.#pending.set(key, { fields, msg });
      if (this.#pending.size > MAX_KEYS) this.#pending.delete(this.#pending.keys().next().value as string);
      this.#arm(this.#limiter.dueInMs(key) ?? this.intervalMs);
      return false;
    }
    this.#pending.delete(key);
    this.#write(fields, msg, t);
    return true;
  }

  /** The condition of `key` ended: its next line is written at once. */
  reset(key: string): void {
    this.#limiter.reset(key);
    this.#pending.delete(key);
  }

  /** Start over for every key (e.g. a peer link that connected again). */
  clear(): void {
    this.#limiter.clear();
    this.#pending.clear();
  }

  #write(fields: object, msg: string, t: Taken): void {
    if (t.held === 0) this.sink?.warn(fields, msg);
    else
      this.sink?.warn(
        { ...fields, heldBack: t.held },
        `${msg} (${t.held} more in the last ${Math.max(1, Math.round(t.sinceMs / 1000))} s)`,
      );
  }

  /** One timer at a time, for the earliest end of an interval with lines held back. */
  #arm(ms: number): void {
    if (this.#armed) return;
    this.#armed = true;
    this.schedule(() => this.#flush(), Math.max(1, ms));
  }

  #flush(): void {
    this.#armed = false;
    let next = Infinity;
    for (const [key, line] of this.#pending) {
      const t = this.#limiter.drain(key);
      if (t !== null) {
        this.#pending.delete(key);
        this.#write(line.fields, line.msg, t);
        continue;
      }
      const due = this.#limiter.dueInMs(key);
      // Nothing held back any more (forgotten among too many keys, or reported already): nothing to do.
      if (due === null) this.#pending.delete(key);
      else next = Math.min(next, due);
    }
    if (this.#pending.size > 0) this.#arm(next === Infinity ? this.intervalMs : next);
  }
}
