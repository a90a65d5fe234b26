// What the client API thread may know of the node's lease and state machine without a message
// (docs/design.md, "Threads"; the safety argument: docs/lease-safety.md, "Lease reads on the API
// thread"). One SharedArrayBuffer of BigInt64 slots, written only by the node's thread:
//
//   SEQ         seqlock over the next four slots (odd while the node writes them)
//   UNTIL_NS    until when lease reads may be served, on process.hrtime's clock (0: not now)
//   COMMIT      the commit index leaseRead answered with at that publish
//   APPLIED     the applied index, and REVISION the store's revision, at that publish
//   FLOOR       values read at a revision below this may be outdated (the state jumped: a snapshot)
//   STAMPS[h]   the last revision at which a key hashing to h changed
//
// The API thread keeps the answers it got (key, value, revision R0) and serves one again, with no
// message, while: the lease is valid now, applied >= commit at the last publish, R0 >= FLOOR and
// STAMPS[hash(key)] <= R0 (no change to the key since R0). The node stamps inside apply, before
// anything of that apply can leave the thread, and publishes before every message to a peer.
import type { ChangeEvent } from '../../kv/state.ts';

const SEQ = 0;
const UNTIL_NS = 1;
const COMMIT = 2;
const APPLIED = 3;
const REVISION = 4;
const FLOOR = 5;
const HEADER = 8;
/** Buckets of change stamps: a collision only sends a read to the node's thread. */
export const STAMP_BUCKETS = 1 << 16;

/** Subtracted from the lease's end when it is converted to the other clock reading (rounding). */
const MARGIN_NS = 1_000_000n;

export function newLeaseViewBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER + STAMP_BUCKETS) * BigInt64Array.BYTES_PER_ELEMENT);
}

/** FNV-1a over the UTF-16 code units, folded onto the buckets; the same on both threads. */
export function stampBucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return HEADER + ((h ^ (h >>> 16)) & (STAMP_BUCKETS - 1));
}

/** What the node publishes: what leaseRead and the state machine say now. */
export interface LeaseViewState {
  /** The lease's end on the host's clock if a lease read may be served now, else 0 (RaftNode.leaseReadUntil). */
  readonly untilMs: number;
  /** The index leaseRead answered with (0 if it did not). */
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
}

/** The node's side: the only writer. */
export class LeaseViewWriter {
  readonly #a: BigInt64Array;
  /** The revision the last stamp or publish saw: a later one not reached by change() is a jump. */
  #known = -1;
  #floor = 0;

  /**
   * `clock`: the host's clock, which must be the process's monotonic clock in ms (performance.now(),
   * which Node reads from the same source as process.hrtime): only a difference crosses over.
   */
  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly clock: () => number,
  ) {
    this.#a = new BigInt64Array(buffer);
  }

  /** A command applied at `revision` changed these keys (KvStateMachine.observer): called inside apply. */
  changed(revision: number, events: readonly ChangeEvent[]): void {
    if (this.#known >= 0 && revision !== this.#known + 1) this.#raiseFloor(revision - 1);
    this.#known = revision;
    const r = BigInt(revision);
    for (const e of events) Atomics.store(this.#a, stampBucket(e.kv.key), r);
  }

  publish(s: LeaseViewState): void {
    // A revision reached without change() (a snapshot installed, or entries applied before this
    // writer existed): whatever was read before it may have changed unstamped.
    if (s.revision !== this.#known) this.#raiseFloor(s.revision);
    this.#known = s.revision;
    let untilNs = 0n;
    if (s.untilMs > 0) {
      // hrtime read before the host's clock: the remaining time is then measured from a later
      // instant, so the converted end is no later than the lease's (both are the monotonic clock).
      const hr = process.hrtime.bigint();
      const remainingMs = s.untilMs - this.clock();
      if (remainingMs > 0) untilNs = hr + BigInt(Math.floor(remainingMs * 1e6)) - MARGIN_NS;
    }
    const a = this.#a;
    Atomics.add(a, SEQ, 1n);
    Atomics.store(a, UNTIL_NS, untilNs);
    Atomics.store(a, COMMIT, BigInt(s.commit));
    Atomics.store(a, APPLIED, BigInt(s.applied));
    Atomics.store(a, REVISION, BigInt(s.revision));
    Atomics.add(a, SEQ, 1n);
  }

  /** No lease reads on the API thread from now on (the node stopped). */
  close(): void {
    const a = this.#a;
    Atomics.add(a, SEQ, 1n);
    Atomics.store(a, UNTIL_NS, 0n);
    Atomics.add(a, SEQ, 1n);
  }

  #raiseFloor(revision: number): void {
    if (revision <= this.#floor) return;
    this.#floor = revision;
    Atomics.store(this.#a, FLOOR, BigInt(revision));
  }
}

/** Where a value still current may be answered at. */
export interface LeaseViewAnswer {
  readonly index: number;
  readonly revision: number;
}

/** The API thread's side: reads only. */
export class LeaseViewReader {
  readonly #a: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#a = new BigInt64Array(buffer);
  }

  /**
   * The applied index and revision to answer at if the value of `key` read at revision `readAt`
   * may be served as a lease read now; null if the node's thread must answer.
   */
  check(key: string, readAt: bigint): LeaseViewAnswer | null {
    const a = this.#a;
    const seq = Atomics.load(a, SEQ);
    if ((seq & 1n) !== 0n) return null;
    const untilNs = Atomics.load(a, UNTIL_NS);
    const commit = Atomics.load(a, COMMIT);
    const applied = Atomics.load(a, APPLIED);
    const revision = Atomics.load(a, REVISION);
    if (Atomics.load(a, SEQ) !== seq) return null;
    if (untilNs === 0n || applied < commit) return null;
    if (readAt < Atomics.load(a, FLOOR) || Atomics.load(a, stampBucket(key)) > readAt) return null;
    // The clock last: every load above happened while the lease was valid.
    if (process.hrtime.bigint() >= untilNs) return null;
    return { index: Number(applied), revision: Number(revision) };
  }
}
