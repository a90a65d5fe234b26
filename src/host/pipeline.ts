// Asynchronous storage writes in the host (docs/design.md, "The drive loop"): the drive loop hands
// the persister a new Ready while earlier ones are still being written, and each Ready's completion
// (acknowledgements out, advance()) must still run in the order the Readies were handed out — the
// core asserts it. InOrderCompletions is that queue: a completion runs once it and every one added
// before it are marked done.

/** Readies handed out and not yet durable, at most: a bound on the pipeline's memory and on the
 * work queued behind one fsync. The drive loop stops taking Readies there (heartbeats still leave). */
export const MAX_READIES_IN_FLIGHT = 64;

export class InOrderCompletions {
  private readonly queue: { done: boolean; readonly run: () => void }[] = [];
  private running = false;

  /** Queues `run`; returns the function that marks it done (call it once). */
  add(run: () => void): () => void {
    const slot = { done: false, run };
    this.queue.push(slot);
    return () => {
      slot.done = true;
      this.flush();
    };
  }

  /** Queued and not yet run. */
  get size(): number {
    return this.queue.length;
  }

  private flush(): void {
    // A completion that marks another done (or adds one) runs it from this loop, never nested.
    if (this.running) return;
    this.running = true;
    try {
      for (let head = this.queue[0]; head?.done === true; head = this.queue[0]) {
        this.queue.shift();
        head.run();
      }
    } finally {
      this.running = false;
    }
  }
}
