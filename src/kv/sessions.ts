// Client sessions for exactly-once writes (Raft thesis §6.3), kept in the replicated state.
//
// For each clientId: the highest applied seq, its result, and the log index that last touched it.
// - same seq again           → the cached ORIGINAL result; nothing is applied again
// - older seq                → 'session-stale' (only the latest result is kept, one request in flight)
// - unknown client, seq == 1 → a new session (clients start every new clientId at seq 1)
// - unknown client, seq > 1  → 'session-expired': the session was evicted, so a retry cannot be told
//                              from a first attempt; the client must start over with a new clientId
// Expiry is a pure function of the log (no clocks), so every replica evicts the same sessions at the
// same index: at most `maxSessions` (least recently touched goes first) and none idle for more than
// `maxIdleEntries` log entries. Every replica MUST use the same SessionConfig.
//
// Residual risk (as in the thesis): if a client's seq-1 command is applied, its session is then
// evicted, and the client retries seq 1, it is applied twice. Keep maxIdleEntries far above what a
// client's retry deadline can span.
import type { ByteReader, ByteWriter } from '../util/bytes.ts';
import type { Session } from './command.ts';
import { readResult, writeResult, type ApplyResult } from './result.ts';

export interface SessionConfig {
  /** Most sessions kept; the least recently touched is evicted beyond this. */
  readonly maxSessions: number;
  /** A session untouched for more than this many log entries expires. */
  readonly maxIdleEntries: number;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = { maxSessions: 10_000, maxIdleEntries: 10_000_000 };

export function validateSessionConfig(c: SessionConfig): SessionConfig {
  if (!Number.isSafeInteger(c.maxSessions) || c.maxSessions < 1 || c.maxSessions > 10_000_000) {
    throw new RangeError(`maxSessions must be an integer in [1, 10000000]: ${c.maxSessions}`);
  }
  if (!Number.isSafeInteger(c.maxIdleEntries) || c.maxIdleEntries < 1) {
    throw new RangeError(`maxIdleEntries must be an integer >= 1: ${c.maxIdleEntries}`);
  }
  return c;
}

interface SessionRecord {
  seq: number;
  result: ApplyResult;
  lastIndex: number;
}

export type SessionCheck =
  { readonly kind: 'apply' } | { readonly kind: 'answer'; readonly result: ApplyResult; readonly duplicate: boolean };

export class SessionTable {
  /**
   * Invariant: iteration order is ascending lastIndex (a touch deletes and re-inserts), so the
   * first entry is always the least recently touched — eviction and expiry look only at the head.
   */
  private readonly byClient = new Map<string, SessionRecord>();

  constructor(private readonly config: SessionConfig) {}

  get size(): number {
    return this.byClient.size;
  }

  /** Decides what to do with a command carrying `s` at log index `index`. */
  check(s: Session, index: number): SessionCheck {
    const rec = this.byClient.get(s.clientId);
    if (rec === undefined) {
      if (s.seq === 1) return { kind: 'apply' };
      return { kind: 'answer', duplicate: false, result: { op: 'session-expired', clientId: s.clientId, seq: s.seq } };
    }
    if (s.seq > rec.seq) return { kind: 'apply' };
    if (s.seq === rec.seq) {
      this.touch(s.clientId, rec, index);
      return { kind: 'answer', duplicate: true, result: rec.result };
    }
    return {
      kind: 'answer',
      duplicate: false,
      result: { op: 'session-stale', clientId: s.clientId, seq: s.seq, lastSeq: rec.seq },
    };
  }

  /** Records the result of a command just applied at `index` (after check() said 'apply'). */
  record(s: Session, index: number, result: ApplyResult): void {
    const rec = this.byClient.get(s.clientId);
    if (rec !== undefined) {
      rec.seq = s.seq;
      rec.result = result;
      this.touch(s.clientId, rec, index);
      return;
    }
    while (this.byClient.size >= this.config.maxSessions) this.evictOldest();
    this.byClient.set(s.clientId, { seq: s.seq, result, lastIndex: index });
  }

  /** Drops sessions idle for more than maxIdleEntries; called for every applied index. */
  expire(index: number): void {
    for (const rec of this.byClient.values()) {
      if (index - rec.lastIndex <= this.config.maxIdleEntries) return;
      this.evictOldest();
    }
  }

  lastSeq(clientId: string): number | undefined {
    return this.byClient.get(clientId)?.seq;
  }

  private touch(clientId: string, rec: SessionRecord, index: number): void {
    rec.lastIndex = index;
    this.byClient.delete(clientId);
    this.byClient.set(clientId, rec);
  }

  private evictOldest(): void {
    const first = this.byClient.keys().next();
    if (first.done === true) return;
    this.byClient.delete(first.value);
  }

  clear(): void {
    this.byClient.clear();
  }

  write(w: ByteWriter): void {
    w.varint(this.byClient.size);
    for (const [clientId, rec] of this.byClient) {
      w.str(clientId);
      w.varint(rec.seq);
      w.varint(rec.lastIndex);
      writeResult(w, rec.result);
    }
  }

  /** Replaces the contents from a snapshot; validates the recency-order invariant. */
  read(r: ByteReader, fail: (m: string) => Error): void {
    this.byClient.clear();
    const count = r.varint('session count');
    let prevIndex = 0;
    for (let i = 0; i < count; i++) {
      const clientId = r.str('clientId');
      const seq = r.varint('seq');
      const lastIndex = r.varint('lastIndex');
      const result = readResult(r, fail);
      if (lastIndex < prevIndex) throw fail('sessions not in recency order');
      if (this.byClient.has(clientId)) throw fail(`duplicate session ${clientId}`);
      prevIndex = lastIndex;
      this.byClient.set(clientId, { seq, result, lastIndex });
    }
    if (this.byClient.size > this.config.maxSessions) throw fail('more sessions than maxSessions');
  }
}
