// One postMessage per turn each way between the node's thread and the API thread (issue 16). Every
// message costs the receiver a dispatch of its own (an event, a callback scope, a microtask
// checkpoint) and may cost a cross-thread wake-up (~10 µs between cores on a 2-vCPU AMD machine);
// under load one turn of either loop produces many: requests parsed from many sockets in one poll
// phase, answers resolved by one apply. Messages are queued in order and sent together.
import type { Batch } from './protocol.ts';

/**
 * A bound on the bytes of one send (the node's side, session 9 audit): postMessage copies the whole
 * batch in the sending thread, and 128 answers of a 1 MB value were one 128 MB copy on the node's
 * thread (85–215 ms measured alone), long enough with the rest of the turn to lose the lease. Over
 * the bound, the rest waits for the next turn of the loop (setImmediate), so timers — heartbeats,
 * lease renewals — run between the parts. A message larger than the bound goes alone.
 */
export interface SendBudget<M> {
  /** About what `m` costs to copy, in bytes (strings in UTF-16 units); 0 for small messages. */
  readonly bytesOf: (m: M) => number;
  readonly maxBytes: number;
}

/** Messages sent as one when queued within the same turn; the first schedules the send. */
export class TurnBatch<M> {
  #queue: M[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(
    private readonly send: (m: M | Batch<M>) => void,
    /** When the queue is sent: 'immediate' at the end of this turn's poll phase, 'microtask' once this task's microtasks ran. */
    private readonly when: 'immediate' | 'microtask',
    /** Called before each send (the node's side brings the API thread's auth table up to date first). */
    private readonly beforeSend: () => void = () => {},
    /** Absent: everything queued goes in one send. */
    private readonly budget?: SendBudget<M>,
  ) {}

  /** Queues `m` behind what is queued already. */
  push(m: M): void {
    this.#queue.push(m);
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.when === 'microtask') queueMicrotask(this.#flush);
    else setImmediate(this.#flush);
  }

  /** Sends `m` now, behind what is queued (lifecycle and log messages: never reordered with the rest). */
  now(m: M): void {
    while (this.#queue.length > 0) this.flush();
    this.beforeSend();
    this.send(m);
  }

  /** Sends what is queued (within the budget; the rest in the next turn): one message as itself, more as one batch. */
  flush(): void {
    this.#scheduled = false;
    const q = this.#queue;
    if (q.length === 0) return;
    const n = this.budget === undefined ? q.length : this.#fits(q, this.budget);
    this.#queue = n === q.length ? [] : q.slice(n);
    const part = n === q.length ? q : q.slice(0, n);
    if (this.#queue.length > 0) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    this.beforeSend();
    this.send(part.length === 1 ? (part[0] as M) : { t: 'batch', ms: part });
  }

  /** How many of the first messages fit in one send (at least one). */
  #fits(q: readonly M[], budget: SendBudget<M>): number {
    let bytes = 0;
    for (let i = 0; i < q.length; i++) {
      bytes += budget.bytesOf(q[i]!);
      if (bytes > budget.maxBytes && i > 0) return i;
    }
    return q.length;
  }
}
