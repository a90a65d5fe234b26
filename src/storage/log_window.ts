// The shape of the log as the WAL sees it: a base (index, term) — everything at or below it is
// covered by a snapshot or by segments already deleted — and the items above it, one per index.
// Used by recovery (items are Entries) and by the running WAL (items are terms only).

export class LogWindow<T> {
  private items: T[] = [];
  constructor(
    private readonly termOf: (item: T) => number,
    public baseIndex = 0,
    public baseTerm = 0,
  ) {}

  lastIndex(): number {
    return this.baseIndex + this.items.length;
  }
  lastTerm(): number {
    const last = this.items[this.items.length - 1];
    return last === undefined ? this.baseTerm : this.termOf(last);
  }
  /** Term at `index`, or undefined when it is below the base or past the end. */
  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    const item = this.items[index - this.baseIndex - 1];
    return item === undefined ? undefined : this.termOf(item);
  }
  /** Items above the base, in index order. */
  all(): readonly T[] {
    return this.items;
  }
  /** Appends `item` at index lastIndex()+1. */
  push(item: T): void {
    this.items.push(item);
  }
  /** Removes every index >= fromIndex. Requires baseIndex < fromIndex <= lastIndex()+1. */
  truncateFrom(fromIndex: number): void {
    this.items.length = fromIndex - this.baseIndex - 1;
  }
  /**
   * Raft's rule for installing a snapshot (index, term) (Raft §7): if the log has that entry, keep
   * what follows it; otherwise discard the whole log. A snapshot at or below the base changes nothing.
   */
  applySnapshot(index: number, term: number): void {
    if (index <= this.baseIndex) return;
    if (this.termAt(index) === term) this.items = this.items.slice(index - this.baseIndex);
    else this.items = [];
    this.baseIndex = index;
    this.baseTerm = term;
  }
  /** Forgets items at or below `index` (they are in a snapshot). No-op outside (base, last]. */
  compactTo(index: number): void {
    const term = this.termAt(index);
    if (index <= this.baseIndex || term === undefined) return;
    this.items = this.items.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }
}
