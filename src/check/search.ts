// The linearizability search for ONE partition (one key, or one register): Wing & Gong's depth-first
// search with Lowe's memoization, as in Porcupine (Athalye, "Porcupine: a fast linearizability
// checker"). Events (calls and returns) sit in a doubly linked list ordered by time. Walking it,
// a call may be linearized now if the model accepts it; it is then "lifted" out of the list with
// its return. Reaching a return means that operation should have been linearized already:
// backtrack. A cache of (set of linearized operations, model state) prunes states seen before.
// Operations with an unknown outcome get a return at +infinity: they may take effect at any point
// after their call, and linearizing one after every other operation is the same as omitting it.
import type { HistoryOp } from './history.ts';
import type { Model, Value } from './models.ts';
import { VisitedSet } from './cache.ts';

export type SearchResult =
  | { readonly kind: 'linearizable'; readonly order: readonly number[] }
  | { readonly kind: 'violation'; readonly longestPrefix: readonly number[] }
  | { readonly kind: 'unknown'; readonly reason: string; readonly longestPrefix: readonly number[] };

/** Shared by all searches of one check on one thread: bounds the memory of their caches. */
export interface CacheBudget {
  /** Memoized states still allowed; a search that would go below zero ends as 'unknown'. */
  remaining: number;
}
const NIL = -1;

/** Deterministic 32-bit hashes per operation (Zobrist): the set hash is their XOR. */
function zobristTable(n: number): Uint32Array {
  const t = new Uint32Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    // xorshift32: a fixed seed keeps runs reproducible.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    t[i] = x >>> 0;
  }
  return t;
}

/** Builds the time-ordered event list. Node 2i = call of op i, 2i+1 = its return; head = 2n. */
function buildList(ops: readonly HistoryOp[]): { next: Int32Array; prev: Int32Array; head: number } {
  const n = ops.length;
  const nodes: number[] = [];
  for (let i = 0; i < 2 * n; i++) nodes.push(i);
  const time = (node: number): number => {
    const op = ops[node >> 1] as HistoryOp;
    if ((node & 1) === 0) return op.call;
    return op.outcome === 'unknown' || op.return === null ? Infinity : op.return;
  };
  // Ties: calls before returns, so ops touching at one instant count as concurrent (the lenient,
  // sound choice: clocks of integer resolution cannot order them).
  nodes.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(NIL);
  const prev = new Int32Array(2 * n + 1).fill(NIL);
  let last = head;
  for (const node of nodes) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }
  return { next, prev, head };
}

/**
 * The search over one partition, resumable: `advance(maxSteps)` runs at most maxSteps steps and
 * returns the result once decided. Resumability lets one thread interleave the partitions of a
 * history, so that an easy violation in one key is found even when another key is hard.
 * `ops` must not contain 'fail' operations (they never took effect).
 */
export class PartitionSearch {
  private readonly n: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  private readonly zobrist: Uint32Array;
  private readonly bits: Uint32Array;
  // States are interned: ids make the cache key cheap, and the transition memo runs the model
  // (string building, for append) once per (state, op) pair however often the search revisits it.
  private readonly stateIds = new Map<Value, number>();
  private readonly stateValues: Value[] = [];
  private readonly transitions = new Map<number, number>();
  private cache: VisitedSet;
  private readonly stackOp: Int32Array;
  private readonly stackState: Int32Array;
  private depth = 0;
  private setHash = 0;
  private state: number;
  private entry: number;
  private longest: number[] = [];
  private result: SearchResult | undefined;
  /** Steps taken so far (for reports and benchmarks). */
  steps = 0;

  constructor(
    private readonly model: Model,
    private readonly ops: readonly HistoryOp[],
    private readonly budget: CacheBudget,
  ) {
    this.n = ops.length;
    const list = buildList(ops);
    this.next = list.next;
    this.prev = list.prev;
    this.head = list.head;
    this.zobrist = zobristTable(this.n);
    this.bits = new Uint32Array(Math.ceil(this.n / 32));
    this.cache = new VisitedSet(this.bits.length);
    this.stackOp = new Int32Array(this.n);
    this.stackState = new Int32Array(this.n);
    this.state = this.idOf(model.init);
    this.entry = this.next[this.head] as number;
  }

  get done(): SearchResult | undefined {
    return this.result;
  }

  /** Gives up (time budget): the result becomes 'unknown' and the cache is freed. */
  stop(reason: string): SearchResult {
    if (this.result !== undefined) return this.result;
    this.noteLongest();
    return this.finish({ kind: 'unknown', reason, longestPrefix: this.longest });
  }

  advance(maxSteps: number): SearchResult | undefined {
    if (this.result !== undefined) return this.result;
    const { next, head, stackOp, stackState } = this;
    for (let k = 0; k < maxSteps; k++) {
      if (next[head] === NIL) {
        return this.finish({ kind: 'linearizable', order: Array.from(stackOp.subarray(0, this.depth)) });
      }
      this.steps++;
      const entry = this.entry;
      if (entry !== NIL && (entry & 1) === 0) {
        const i = entry >> 1;
        const nextState = this.stepId(this.state, i);
        if (nextState !== NIL && this.remember(i, nextState)) {
          if (this.budget.remaining < 0) return this.stop('state cache limit reached');
          stackOp[this.depth] = i;
          stackState[this.depth] = this.state;
          this.depth++;
          this.state = nextState;
          this.lift(entry);
          this.entry = next[head] as number;
        } else {
          this.entry = next[entry] as number;
        }
        continue;
      }
      // A return: its operation was not linearized in time. Backtrack.
      this.noteLongest();
      if (this.depth === 0) return this.finish({ kind: 'violation', longestPrefix: this.longest });
      this.depth--;
      const i = stackOp[this.depth] as number;
      this.state = stackState[this.depth] as number;
      this.toggle(i);
      this.unlift(2 * i);
      this.entry = next[2 * i] as number;
    }
    return undefined;
  }

  private finish(r: SearchResult): SearchResult {
    this.result = r;
    this.budget.remaining += this.cache.size;
    this.cache = new VisitedSet(0);
    this.transitions.clear();
    return r;
  }

  private idOf(v: Value): number {
    let id = this.stateIds.get(v);
    if (id === undefined) {
      id = this.stateValues.length;
      this.stateIds.set(v, id);
      this.stateValues.push(v);
    }
    return id;
  }

  private stepId(s: number, i: number): number {
    const memoKey = s * this.n + i;
    let t = this.transitions.get(memoKey);
    if (t === undefined) {
      const v = this.model.step(this.stateValues[s] as Value, this.ops[i] as HistoryOp);
      t = v === undefined ? NIL : this.idOf(v);
      this.transitions.set(memoKey, t);
    }
    return t;
  }

  private toggle(i: number): void {
    this.bits[i >> 5] = (this.bits[i >> 5] as number) ^ (1 << (i & 31));
    this.setHash = (this.setHash ^ (this.zobrist[i] as number)) >>> 0;
  }

  /**
   * Adds op i to the linearized set with the candidate next state; if that (set, state) pair
   * was explored before, undoes the addition and returns false.
   */
  private remember(i: number, stateId: number): boolean {
    this.toggle(i);
    const hash = (this.setHash ^ Math.imul(stateId + 1, 0x9e3779b1)) >>> 0;
    if (!this.cache.add(this.bits, stateId, hash)) {
      this.toggle(i);
      return false;
    }
    this.budget.remaining--;
    return true;
  }

  private lift(c: number): void {
    const { next, prev } = this;
    next[prev[c] as number] = next[c] as number;
    prev[next[c] as number] = prev[c] as number;
    const r = c + 1;
    next[prev[r] as number] = next[r] as number;
    if (next[r] !== NIL) prev[next[r] as number] = prev[r] as number;
  }

  private unlift(c: number): void {
    const { next, prev } = this;
    const r = c + 1;
    next[prev[r] as number] = r;
    if (next[r] !== NIL) prev[next[r] as number] = r;
    next[prev[c] as number] = c;
    prev[next[c] as number] = c;
  }

  private noteLongest(): void {
    if (this.depth > this.longest.length) this.longest = Array.from(this.stackOp.subarray(0, this.depth));
  }
}
