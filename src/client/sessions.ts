// Exactly-once write sessions (Raft thesis §6.3), client side. A session allows one outstanding
// write at a time (the simplest contract a server's session table can keep), so concurrent writes
// each take a slot with its own client id "<clientId>/<n>"; a retry of a write reuses its slot's
// seq, the next write on the slot takes seq + 1.
import { DeadlineExceededError, LeasekvError } from './errors.ts';

export interface SessionSlot {
  readonly clientId: string;
  seq: number;
}

export class SessionPool {
  readonly #free: SessionSlot[] = [];
  /** Writes waiting for a slot, oldest first. */
  readonly #waiting: ((s: SessionSlot) => void)[] = [];
  #created = 0;

  constructor(
    private readonly baseId: string,
    private readonly maxSlots: number,
  ) {}

  /**
   * A slot with its seq already advanced for the new write. Waits when maxSlots writes are in
   * flight — at most `timeoutMs` (then DeadlineExceededError) and not past `signal`'s abort (then
   * a canceled LeasekvError): a queued write must end by its deadline like any other call.
   */
  async acquire(signal: AbortSignal, timeoutMs: number): Promise<SessionSlot> {
    let slot = this.#free.pop();
    if (slot === undefined && this.#created < this.maxSlots) {
      slot = { clientId: `${this.baseId}/${this.#created}`, seq: 0 };
      this.#created++;
    }
    slot ??= await this.#wait(signal, timeoutMs);
    slot.seq++;
    return slot;
  }

  #wait(signal: AbortSignal, timeoutMs: number): Promise<SessionSlot> {
    return new Promise<SessionSlot>((resolve, reject) => {
      const give = (s: SessionSlot): void => {
        settle();
        resolve(s);
      };
      const settle = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const i = this.#waiting.indexOf(give);
        if (i >= 0) this.#waiting.splice(i, 1);
      };
      const onAbort = (): void => {
        settle();
        reject(new LeasekvError('canceled', 'canceled while waiting for a session slot'));
      };
      const timer = setTimeout(() => {
        settle();
        reject(
          new DeadlineExceededError(
            `deadline of ${Math.round(timeoutMs)} ms exceeded waiting for a session slot: ` +
              `${this.maxSlots} writes (maxConcurrency) were in flight the whole time`,
          ),
        );
      }, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(give);
    });
  }

  release(slot: SessionSlot): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(slot);
    else this.#free.push(slot);
  }
}
