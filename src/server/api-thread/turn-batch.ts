// One postMessage per turn each way between the node's thread and the API thread (issue 16). Every
// message costs the receiver a dispatch of its own (an event, a callback scope, a microtask
// checkpoint) and may cost a cross-thread wake-up (~10 µs between cores on a 2-vCPU AMD machine);
// under load one turn of either loop produces many: requests parsed from many sockets in one poll
// phase, answers resolved by one apply. Messages are queued in order and sent together.
import type { Batch } from './protocol.ts';

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
    this.flush();
    this.beforeSend();
    this.send(m);
  }

  /** Sends what is queued: one message as itself, more as one batch. */
  flush(): void {
    this.#scheduled = false;
    const q = this.#queue;
    if (q.length === 0) return;
    this.#queue = [];
    this.beforeSend();
    this.send(q.length === 1 ? (q[0] as M) : { t: 'batch', ms: q });
  }
}
