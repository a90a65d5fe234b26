// Fair turns at the socket level (issue 13, "a fair share per source"): what a source costs the
// API thread is the requests it gets read, not only the ones it holds in flight. A lease read
// answered on this thread from shared memory (api-thread/local-reads.ts) holds no in-flight slot for
// longer than a microtask, so the in-flight shares of admission.ts never see a flood of them: a
// source keeping 4,096 such reads queued on its connections made every turn of the event loop read
// and answer all 4,096 before another source's socket was read again (seconds per turn on two
// cores), and other clients' requests waited behind them in the kernel's buffers.
//
// So the server counts, per source address, the requests it starts in each turn of the event
// loop. Once a source has started more than its quantum in a turn while another source has been
// seen recently, reading from every one of its connections stops (the requests stay in its own
// TCP buffers, where they cost the node nothing) until the turn ends (setImmediate: after the
// poll phase), when its connections are read again, the first one in rotation so that each of
// them gets turns. A turn therefore reads at most about a quantum (plus one read's worth) from a
// flooding source, and a quiet source's request waits at most a turn or two. A lone source is never
// paused: there is nobody to be fair to.
//
// Reading is stopped on the connection's stream handle (readStop/readStart; the HTTP/1.1 parser,
// nghttp2 and TLS all read through it natively, so socket.pause() would not stop them).
// read-turns.test.ts checks the effect through real sockets.
import type { Socket } from 'node:net';

/** How long a source counts as present ("another source waits") after its last request. */
const PRESENT_WINDOW_MS = 1000;

interface StreamHandle {
  readStop(): number;
  readStart(): number;
}

/** The socket's libuv stream handle, or null once it is closed (or in a form that cannot be paused). */
function handleOf(socket: Socket): StreamHandle | null {
  const h = (socket as unknown as { _handle?: Partial<StreamHandle> | null })._handle;
  return h !== null && h !== undefined && typeof h.readStop === 'function' && typeof h.readStart === 'function'
    ? (h as StreamHandle)
    : null;
}

function holdsAnother(sources: Set<string>, source: string): boolean {
  return sources.size > 1 || (sources.size === 1 && !sources.has(source));
}

export interface ReadTurnsStats {
  /** Times a source's connections were paused for the rest of a turn. */
  pauses: number;
}

export class ReadTurns {
  /** Open connections per source (the front end adds and removes them). */
  readonly #sockets = new Map<string, Set<Socket>>();
  /** Requests started this turn per source. Cleared at every turn's end. */
  readonly #turn = new Map<string, number>();
  /** Sources paused in this turn and the connections stopped, read again at the turn's end. */
  readonly #paused = new Map<string, Socket[]>();
  /** Per source, which of its connections is read first next turn. */
  readonly #rotation = new Map<string, number>();
  /** Sources that started requests in the current and the previous presence window. */
  #present = new Set<string>();
  #presentBefore = new Set<string>();
  #windowStartMs: number;
  #turnEndScheduled = false;
  readonly stats: ReadTurnsStats = { pauses: 0 };

  constructor(
    /** Requests a source may start in one turn while others are present. */
    private readonly quantum: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.#windowStartMs = nowMs();
  }

  /** A connection from `source` was accepted. */
  add(source: string, socket: Socket): void {
    let set = this.#sockets.get(source);
    if (set === undefined) this.#sockets.set(source, (set = new Set()));
    set.add(socket);
  }

  /** The connection closed. */
  remove(source: string, socket: Socket): void {
    const set = this.#sockets.get(source);
    if (set === undefined) return;
    set.delete(socket);
    if (set.size === 0) {
      this.#sockets.delete(source);
      this.#rotation.delete(source);
    }
  }

  /** A request from `source` is about to be handled: counts it, and pauses the source if it is over its quantum. */
  charge(source: string): void {
    const n = (this.#turn.get(source) ?? 0) + 1;
    this.#turn.set(source, n);
    if (!this.#turnEndScheduled) {
      this.#turnEndScheduled = true;
      setImmediate(this.#endTurn);
    }
    // Over the quantum: asked again every quantum requests (a lone source is asked seldom).
    if (n > this.quantum && (n - 1) % this.quantum === 0 && !this.#paused.has(source) && this.#othersPresent(source))
      this.#pause(source);
  }

  /** Whether the source's connections are not being read now (tests, metrics). */
  isPaused(source: string): boolean {
    return this.#paused.has(source);
  }

  #othersPresent(source: string): boolean {
    return this.#turn.size > 1 || holdsAnother(this.#present, source) || holdsAnother(this.#presentBefore, source);
  }

  #pause(source: string): void {
    const stopped: Socket[] = [];
    for (const s of this.#sockets.get(source) ?? []) {
      const h = handleOf(s);
      if (h === null) continue;
      h.readStop();
      stopped.push(s);
    }
    this.#paused.set(source, stopped);
    this.stats.pauses++;
  }

  readonly #endTurn = (): void => {
    this.#turnEndScheduled = false;
    const now = this.nowMs();
    if (now - this.#windowStartMs >= PRESENT_WINDOW_MS) {
      this.#windowStartMs = now;
      this.#presentBefore = this.#present;
      this.#present = new Set();
    }
    for (const source of this.#turn.keys()) this.#present.add(source);
    this.#turn.clear();
    for (const [source, stopped] of this.#paused) this.#resume(source, stopped);
    this.#paused.clear();
  };

  /**
   * Reads the stopped connections again, starting one further along each time (round robin: the
   * first one started is the first one read in the next poll). One that ended or closed meanwhile
   * is left alone (starting it again would read its end twice).
   */
  #resume(source: string, stopped: readonly Socket[]): void {
    if (stopped.length === 0) return;
    const first = (this.#rotation.get(source) ?? 0) % stopped.length;
    this.#rotation.set(source, first + 1);
    for (let i = 0; i < stopped.length; i++) {
      const s = stopped[(first + i) % stopped.length] as Socket;
      if (!s.destroyed && s.readable) handleOf(s)?.readStart();
    }
  }
}
