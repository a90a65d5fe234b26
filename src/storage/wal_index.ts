// Where each entry since the snapshot is in the WAL (issue 16: the core keeps only a window of the
// log in memory; a leader reads older entries back by index). Terms as the WAL's LogWindow keeps
// them, plus one location per entry: segment sequence number and byte offset of its record, packed
// into one number (seq · 2^32 + offset: exact in a double for any seq below 2^20) so that the
// locations cost 8 bytes an entry in a packed array, not an object each.
import type { Entry } from '../raft/types.ts';
import { LogWindow } from './log_window.ts';

const SEQ_UNIT = 2 ** 32;

export interface EntryLocation {
  readonly seq: number;
  readonly offset: number;
}

export class WalIndex {
  readonly terms: LogWindow<number>;
  /** locs[i] is the location of the entry at terms.baseIndex + 1 + i. */
  private locs: number[] = [];

  constructor(baseIndex = 0, baseTerm = 0) {
    this.terms = new LogWindow<number>((t) => t, baseIndex, baseTerm);
  }

  /** The index of what recovery read: its log, and where it read each entry (Recovered.locations). */
  static recovered(log: LogWindow<Entry>, locations: WeakMap<Entry, EntryLocation>): WalIndex {
    const index = new WalIndex(log.baseIndex, log.baseTerm);
    for (const e of log.all()) {
      const at = locations.get(e);
      if (at === undefined) throw new Error(`WalIndex: no location recovered for entry ${e.index}`);
      index.push(e.term, at.seq, at.offset);
    }
    return index;
  }

  get baseIndex(): number {
    return this.terms.baseIndex;
  }
  lastIndex(): number {
    return this.terms.lastIndex();
  }
  lastTerm(): number {
    return this.terms.lastTerm();
  }

  push(term: number, seq: number, offset: number): void {
    this.terms.push(term);
    this.locs.push(seq * SEQ_UNIT + offset);
  }

  /** Where the record of the entry at `index` starts, or null when below the base or past the end. */
  locate(index: number): EntryLocation | null {
    const loc = this.locs[index - this.terms.baseIndex - 1];
    if (loc === undefined || index <= this.terms.baseIndex) return null;
    return { seq: Math.floor(loc / SEQ_UNIT), offset: loc % SEQ_UNIT };
  }

  truncateFrom(fromIndex: number): void {
    this.terms.truncateFrom(fromIndex);
    this.locs.length = fromIndex - this.terms.baseIndex - 1;
  }

  /** LogWindow.applySnapshot, keeping the locations of what follows a matching snapshot point. */
  applySnapshot(index: number, term: number): void {
    if (index <= this.terms.baseIndex) return;
    const keep = this.terms.termAt(index) === term;
    this.locs = keep ? this.locs.slice(index - this.terms.baseIndex) : [];
    this.terms.applySnapshot(index, term);
  }

  /** LogWindow.compactTo, with the locations. */
  compactTo(index: number): void {
    if (index <= this.terms.baseIndex || this.terms.termAt(index) === undefined) return;
    this.locs = this.locs.slice(index - this.terms.baseIndex);
    this.terms.compactTo(index);
  }
}
