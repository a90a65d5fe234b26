// One watch on a member's change history (watch-hub.ts): its request, limits, errors and the
// Watcher that streams batches to one reader. Guarantees (docs/api.md, "Watch"): every matching
// change with a revision at or after the start, in revision order, each revision once and whole,
// or a clear error — never a silent gap. The server reads a watcher through its async iterator;
// the simulator (src/sim/watchers.ts) through pull() and whenReady(), which the iterator is built on.
import { Buffer } from 'node:buffer';
import type { ChangeEvent } from './machine.ts';

export type { ChangeEvent } from './machine.ts';

/** Deliberately broken watch hubs for the simulator's mutant suite (docs/simulator.md). Never set by the server. */
export type WatchMutant = 'watch-skip-event' | 'watch-duplicate-on-resume';
export const WATCH_MUTANTS: readonly WatchMutant[] = ['watch-skip-event', 'watch-duplicate-on-resume'];

export interface WatchRequest {
  /** The key, or with `prefix`, the prefix ("" with prefix: every key). */
  readonly key: string;
  readonly prefix: boolean;
  /** First revision wanted; 0: only changes after the current revision. */
  readonly startRevision: number;
  /** Include each event's previous key-value. */
  readonly prevKv: boolean;
  /**
   * Split a revision whose events pass this many bytes (as watchEventBytes counts them) into
   * pieces of at most this many, all but the last marked `fragment` (etcd's sendFragments); one
   * event bigger than it goes alone. Absent: every revision in one batch. The client API sets it to
   * --max-response-bytes, so that no response is bigger than what a standard gRPC client takes
   * (4 MiB) and no server-sent event bigger than the cap (api/watch.ts).
   */
  readonly maxBatchBytes?: number;
}

/** One revision's matching events; no events: a progress notification (everything up to `revision` was sent). */
export interface WatchBatch {
  readonly revision: number;
  readonly events: readonly ChangeEvent[];
  /**
   * More events of this revision follow in the next batch (only with WatchRequest.maxBatchBytes).
   * The pieces of one revision come one after another, nothing in between.
   */
  readonly fragment?: true;
}

export interface WatchLimits {
  /** Revisions of history kept. */
  readonly maxHistoryRevisions: number;
  /** Bytes of history kept (approximate: keys and values in UTF-16 units, plus EVENT_OVERHEAD_BYTES per event). */
  readonly maxHistoryBytes: number;
  /** Bytes waiting to be sent to one watcher before it is cut off. */
  readonly maxPendingBytes: number;
  /** Watchers open at once on this member. */
  readonly maxWatchers: number;
  /** An idle watcher gets a progress notification this often. */
  readonly progressIntervalMs: number;
}

export const DEFAULT_WATCH_LIMITS: WatchLimits = {
  maxHistoryRevisions: 100_000,
  // The history is on the V8 heap: 64 MiB here held ~130 MiB of objects with 100-byte values,
  // more than a million keys take in the store (issue 16).
  maxHistoryBytes: 16 * 1024 * 1024,
  maxPendingBytes: 8 * 1024 * 1024,
  maxWatchers: 10_000,
  progressIntervalMs: 5_000,
};

/** The start revision is older than the history this member holds. */
export class CompactedError extends Error {
  override readonly name = 'CompactedError';
  constructor(
    readonly requested: number,
    /** The oldest revision still available here. */
    readonly oldest: number,
    why = 'has been compacted',
  ) {
    super(`revision ${requested} ${why}; the oldest revision available on this member is ${oldest}`);
  }
}

/** The watcher fell more than maxPendingBytes behind. */
export class WatcherTooSlowError extends Error {
  override readonly name = 'WatcherTooSlowError';
}

/** The member is stopping; the client should resume on another member. */
export class WatcherClosedError extends Error {
  override readonly name = 'WatcherClosedError';
}

export class TooManyWatchersError extends Error {
  override readonly name = 'TooManyWatchersError';
}

export interface Held {
  readonly revision: number;
  readonly events: readonly ChangeEvent[];
  readonly bytes: number;
}

/** What an event costs on the heap beyond its strings' characters (the event, kv and prev objects, string headers). */
const EVENT_OVERHEAD_BYTES = 200;
export function eventBytes(e: ChangeEvent): number {
  return EVENT_OVERHEAD_BYTES + e.kv.key.length + e.kv.value.length + (e.prev === undefined ? 0 : e.prev.value.length);
}

/**
 * Bytes one event adds to a WatchResponse, bounding its protobuf encoding (the unit of
 * WatchRequest.maxBatchBytes and --max-response-bytes): keys and values in UTF-8 plus
 * WATCH_KV_OVERHEAD_BYTES a key-value (tags, lengths up to 64 MiB, three varint revisions, the
 * Event's field for it: at most 52) and WATCH_EVENT_OVERHEAD_BYTES an event (its type and its place
 * in the repeated field).
 */
export const WATCH_KV_OVERHEAD_BYTES = 56;
export const WATCH_EVENT_OVERHEAD_BYTES = 16;
export function watchEventBytes(e: ChangeEvent): number {
  const kv = (k: { readonly key: string; readonly value: string }): number =>
    Buffer.byteLength(k.key, 'utf8') + Buffer.byteLength(k.value, 'utf8') + WATCH_KV_OVERHEAD_BYTES;
  return WATCH_EVENT_OVERHEAD_BYTES + kv(e.kv) + (e.prev === undefined ? 0 : kv(e.prev));
}
/** An upper bound of watchEventBytes without reading the strings (UTF-8 takes at most 3 bytes a UTF-16 unit). */
function watchEventBytesAtMost(e: ChangeEvent): number {
  const kv = (k: { readonly key: string; readonly value: string }): number =>
    3 * (k.key.length + k.value.length) + WATCH_KV_OVERHEAD_BYTES;
  return WATCH_EVENT_OVERHEAD_BYTES + kv(e.kv) + (e.prev === undefined ? 0 : kv(e.prev));
}

/**
 * The first piece of `events` (a revision's, from `from`) that fits in `maxBytes`: the index after
 * its last event. At least one event, so that one bigger than the cap still goes (alone).
 */
export function pieceEnd(events: readonly ChangeEvent[], from: number, maxBytes: number): number {
  let atMost = 0;
  for (let i = from; i < events.length; i++) atMost += watchEventBytesAtMost(events[i] as ChangeEvent);
  // The common case, a revision well under the cap: no string is measured.
  if (atMost <= maxBytes) return events.length;
  let bytes = 0;
  let i = from;
  for (; i < events.length; i++) {
    bytes += watchEventBytes(events[i] as ChangeEvent);
    if (bytes > maxBytes && i > from) break;
  }
  return i;
}

/** What a watcher reads of its hub. */
export interface WatchSource {
  readonly limits: WatchLimits;
  readonly revision: number;
  readonly oldest: number;
  readonly mutant: WatchMutant | null;
  readFrom(from: number, maxBytes: number): Held[] | null;
}

/**
 * One watch: an async iterator of batches. Ends only by cancel() (the iterator then returns) or
 * an error (CompactedError, WatcherTooSlowError, WatcherClosedError), thrown by the iterator.
 */
export class Watcher implements AsyncIterable<WatchBatch> {
  /** The next revision this watcher has not yet considered. */
  private next: number;
  /** Caught up: fed by publish; otherwise it reads the history when its queue is empty. */
  private synced = false;
  /**
   * Batches waiting for the reader; `bytes` counts toward maxPendingBytes (0 for catch-up from the
   * history, which is held anyway); `from`: the batch's events before it were sent as fragments.
   */
  private readonly queue: { readonly batch: WatchBatch; bytes: number; from: number }[] = [];
  private queuedBytes = 0;
  private error: Error | null = null;
  private done = false;
  private wake: (() => void) | null = null;
  private sentSinceProgress = false;
  /** Live batches offered so far (MUTANT watch-skip-event drops the third). */
  private offered = 0;

  constructor(
    private readonly hub: WatchSource,
    readonly req: WatchRequest,
    start: number,
    private readonly onEnd: () => void,
  ) {
    this.next = start;
  }

  private matches(key: string): boolean {
    return this.req.prefix ? key.startsWith(this.req.key) : key === this.req.key;
  }

  private filter(events: readonly ChangeEvent[]): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    for (const e of events) {
      if (!this.matches(e.kv.key)) continue;
      out.push(this.req.prevKv || e.prev === undefined ? e : { type: e.type, kv: e.kv });
    }
    return out;
  }

  /** From the hub: a new revision. */
  offer(revision: number, events: readonly ChangeEvent[]): void {
    if (!this.synced || this.done || revision < this.next) return;
    this.next = revision + 1;
    const mine = this.filter(events);
    if (mine.length === 0) return;
    if (this.hub.mutant === 'watch-skip-event' && ++this.offered === 3) return;
    let bytes = 0;
    for (const e of mine) bytes += eventBytes(e);
    // Behind means unsent changes waiting beyond one revision: the largest of the one being sent
    // (the head) and this one is not counted. So one revision bigger than the bound (a transaction of
    // large values, a TTL grant's keys deleted at once) is taken — its events are the history's, not
    // copies — and sent, in pieces with maxBatchBytes, while later small ones queue behind it; cutting
    // the watcher off instead would make it resume from a revision the history may no longer hold.
    const head = this.queue[0]?.bytes ?? 0;
    if (this.queuedBytes + bytes - Math.max(head, bytes) > this.hub.limits.maxPendingBytes) {
      this.fail(
        new WatcherTooSlowError(
          `watcher fell more than ${this.hub.limits.maxPendingBytes} bytes behind and was cut off; resume from the revision after the last one received`,
        ),
      );
      return;
    }
    this.queue.push({ batch: { revision, events: mine }, bytes, from: 0 });
    this.queuedBytes += bytes;
    this.sentSinceProgress = true;
    this.wakeUp();
  }

  /** From the hub: history before `oldest` is gone; a watcher still reading it cannot go on. */
  compacted(oldest: number): void {
    if (!this.done && !this.synced && this.next < oldest) this.fail(new CompactedError(this.next, oldest));
  }

  /** From the hub: the state jumped to `revision`. */
  skipTo(revision: number): void {
    if (this.done || this.next > revision) return;
    this.fail(
      new CompactedError(this.next, revision + 1, 'was skipped: this member installed a snapshot from the leader'),
    );
  }

  progress(revision: number): void {
    if (this.done || !this.synced || this.queue.length > 0) return;
    if (this.sentSinceProgress) {
      this.sentSinceProgress = false;
      return;
    }
    this.queue.push({ batch: { revision, events: [] }, bytes: 0, from: 0 });
    this.wakeUp();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.error = err;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.finish();
  }

  cancel(): void {
    if (this.done) return;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.onEnd();
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Fills the queue from the history while not caught up. */
  private catchUp(): void {
    if (this.synced || this.queue.length > 0) return;
    const held = this.hub.readFrom(this.next, this.hub.limits.maxPendingBytes / 2);
    if (held === null) {
      this.fail(new CompactedError(this.next, this.hub.oldest));
      return;
    }
    for (const h of held) {
      this.next = h.revision + 1;
      const mine = this.filter(h.events);
      if (mine.length > 0) this.queue.push({ batch: { revision: h.revision, events: mine }, bytes: 0, from: 0 });
    }
    if (this.next > this.hub.revision) {
      this.synced = true;
      // Caught up: say so (also the first message of a watch from now — "created at revision R").
      this.queue.push({ batch: { revision: this.hub.revision, events: [] }, bytes: 0, from: 0 });
      this.sentSinceProgress = true;
    }
  }

  /**
   * The next batch if one is ready, 'wait' if none is yet (whenReady then tells when to pull
   * again), 'end' after cancel(); throws the error that ended the watcher.
   */
  pull(): WatchBatch | 'wait' | 'end' {
    for (;;) {
      this.catchUp();
      const q = this.queue[0];
      if (q !== undefined) return this.take(q);
      if (this.error !== null) throw this.error;
      if (this.done) return 'end';
      if (this.synced) return 'wait';
    }
  }

  /**
   * The head batch, or with maxBatchBytes its next piece: the head stays queued until its last
   * piece is taken, so nothing (a progress notification, the next revision) comes between pieces.
   */
  private take(q: { readonly batch: WatchBatch; bytes: number; from: number }): WatchBatch {
    const max = this.req.maxBatchBytes;
    const events = q.batch.events;
    const end = max === undefined || events.length - q.from < 2 ? events.length : pieceEnd(events, q.from, max);
    if (end === events.length) {
      this.queue.shift();
      this.queuedBytes -= q.bytes;
      return q.from === 0 ? q.batch : { revision: q.batch.revision, events: events.slice(q.from) };
    }
    const piece = events.slice(q.from, end);
    q.from = end;
    if (q.bytes > 0) {
      let bytes = 0;
      for (const e of piece) bytes += eventBytes(e);
      q.bytes -= bytes;
      this.queuedBytes -= bytes;
    }
    return { revision: q.batch.revision, events: piece, fragment: true };
  }

  /** Calls `fn` once, when pull() may have something new (a batch, an error or the end). */
  whenReady(fn: () => void): void {
    this.wake = fn;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    try {
      for (;;) {
        const b = this.pull();
        if (b === 'end') return;
        if (b !== 'wait') {
          yield b;
          continue;
        }
        await new Promise<void>((resolve) => this.whenReady(resolve));
      }
    } finally {
      this.cancel();
    }
  }
}
