// Exactly-once write sessions (Raft thesis §6.3), client side. A session allows one outstanding
// write at a time (the simplest contract a server's session table can keep), so concurrent writes
// each take a slot with its own client id "<clientId>/<n>"; a retry of a write reuses its slot's
// seq, the next write on the slot takes seq + 1.

export interface SessionSlot {
  readonly clientId: string;
  seq: number;
}

export class SessionPool {
  readonly #free: SessionSlot[] = [];
  readonly #waiting: ((s: SessionSlot) => void)[] = [];
  #created = 0;

  constructor(
    private readonly baseId: string,
    private readonly maxSlots: number,
  ) {}

  /** A slot with its seq already advanced for the new write. Waits when maxSlots writes are in flight. */
  async acquire(): Promise<SessionSlot> {
    let slot = this.#free.pop();
    if (slot === undefined && this.#created < this.maxSlots) {
      slot = { clientId: `${this.baseId}/${this.#created}`, seq: 0 };
      this.#created++;
    }
    if (slot === undefined) slot = await new Promise<SessionSlot>((resolve) => this.#waiting.push(resolve));
    slot.seq++;
    return slot;
  }

  release(slot: SessionSlot): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(slot);
    else this.#free.push(slot);
  }
}
