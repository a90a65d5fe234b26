// Bookkeeping for client requests waiting on the core: proposals waiting to be applied, reads
// waiting for a ReadIndex answer, and reads waiting for the state machine to catch up to an index.
// Every queue here is bounded by the node's maxPendingRequests (checked by the caller on admission).

import type { ApplyResult } from '../kv/machine.ts';
import { assert } from '../util/assert.ts';

export interface ProposalWaiter {
  readonly term: number;
  resolve(result: ApplyResult, index: number): void;
  reject(err: Error): void;
}

export interface ApplyWaiter {
  readonly index: number;
  resolve(): void;
  reject(err: Error): void;
}

/** Proposals by log index. Invariant: at most one waiter per index. */
export class ProposalTable {
  private readonly byIndex = new Map<number, ProposalWaiter>();

  get size(): number {
    return this.byIndex.size;
  }

  add(index: number, w: ProposalWaiter): void {
    assert(!this.byIndex.has(index), `two proposals at index ${index}`);
    this.byIndex.set(index, w);
  }

  /**
   * The entry at `index` was applied. If it is ours (same term), resolve; if another entry took the
   * index, ours was never committed and never will be: reject with `lost`.
   */
  applied(index: number, term: number, result: ApplyResult | null, lost: () => Error): void {
    const w = this.byIndex.get(index);
    if (w === undefined) return;
    this.byIndex.delete(index);
    if (w.term === term && result !== null) w.resolve(result, index);
    else w.reject(lost());
  }

  /** Everything pending fails with the error `make` builds (e.g. leadership lost: outcome unknown). */
  failAll(make: () => Error): void {
    const all = [...this.byIndex.values()];
    this.byIndex.clear();
    for (const w of all) w.reject(make());
  }
}

/** Waiters for `applied >= index`, released in index order. */
export class ApplyQueue {
  private items: ApplyWaiter[] = [];
  private sorted = true;

  get size(): number {
    return this.items.length;
  }

  add(w: ApplyWaiter): void {
    const last = this.items[this.items.length - 1];
    if (last !== undefined && last.index > w.index) this.sorted = false;
    this.items.push(w);
  }

  release(appliedIndex: number): void {
    if (this.items.length === 0) return;
    if (!this.sorted) {
      this.items.sort((a, b) => a.index - b.index);
      this.sorted = true;
    }
    let n = 0;
    while (n < this.items.length && (this.items[n]?.index ?? Infinity) <= appliedIndex) n++;
    if (n === 0) return;
    const ready = this.items.slice(0, n);
    this.items = this.items.slice(n);
    for (const w of ready) w.resolve();
  }

  failAll(make: () => Error): void {
    const all = this.items;
    this.items = [];
    for (const w of all) w.reject(make());
  }
}

/** ReadIndex requests by request id. */
export class ReadTable {
  private nextId = 1;
  private readonly byId = new Map<number, { resolve(index: number): void; reject(err: Error): void }>();

  get size(): number {
    return this.byId.size;
  }

  add(w: { resolve(index: number): void; reject(err: Error): void }): number {
    const id = this.nextId++;
    this.byId.set(id, w);
    return id;
  }

  resolve(id: number, index: number): void {
    const w = this.byId.get(id);
    if (w === undefined) return;
    this.byId.delete(id);
    w.resolve(index);
  }

  reject(id: number, err: Error): void {
    const w = this.byId.get(id);
    if (w === undefined) return;
    this.byId.delete(id);
    w.reject(err);
  }

  failAll(make: () => Error): void {
    const all = [...this.byId.values()];
    this.byId.clear();
    for (const w of all) w.reject(make());
  }
}
