// The simulator's event queue: a binary min-heap ordered by (true time in µs, insertion sequence).
// The sequence number makes ties deterministic (FIFO), which replayability depends on.

export interface Scheduled<T> {
  readonly atUs: number;
  readonly seq: number;
  readonly event: T;
}

export class EventQueue<T> {
  private heap: Scheduled<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atUs: number, event: T): void {
    if (!Number.isSafeInteger(atUs) || atUs < 0) throw new Error(`EventQueue.push: bad time ${atUs}`);
    const item: Scheduled<T> = { atUs, seq: this.seq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peekTimeUs(): number | undefined {
    return this.heap[0]?.atUs;
  }

  pop(): Scheduled<T> | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less<T>(x: Scheduled<T>, y: Scheduled<T>): boolean {
  return x.atUs < y.atUs || (x.atUs === y.atUs && x.seq < y.seq);
}
