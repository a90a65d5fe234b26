// Range answers under a byte cap (session 10). A Range could answer limit (≤ 10,000) × values of up
// to 1 MiB; eight such answers of 64 MB at once took a leader to 1.3–2.1 GiB and cost it its lease
// (docs/benchmarks.md, "Session 10: answer byte cap"). Here an answer is counted while it is read
// from the store — each key and value in UTF-8 plus RANGE_KV_OVERHEAD_BYTES — and refused with
// AnswerTooLargeError as soon as it passes the cap, so no more than cap + one value is ever built.
// keys_only answers count no value bytes (values are not even decoded); count_only answers read no
// entry at all (the store counts by pages: countAnswer), so both work over any range.
import { Buffer } from 'node:buffer';
import { cursor, readVarint } from './page-codec.ts';
import type { KeyValue, TxnOpResult } from './result.ts';
import { boundEntry, compareBytes, entryAt, type KeyStore, type Page } from './store.ts';
import { compareHolds, type TxnBody } from './txn.ts';

/**
 * Bytes counted per key beyond its key and value: what the protobuf KeyValue costs around them (tags
 * and lengths, three varint revisions, the repeated field's own tag and length) is under 40.
 */
export const RANGE_KV_OVERHEAD_BYTES = 40;

/** One key's share of an answer (valueBytes 0 for keys_only). */
export function kvAnswerBytes(keyBytes: number, valueBytes: number): number {
  return keyBytes + valueBytes + RANGE_KV_OVERHEAD_BYTES;
}

export interface RangeQuery {
  /** Keys starting with this ("" = all). */
  readonly prefix: string;
  /** Begin at this key (inclusive) when it comes after the prefix's first key: a page's last key + "\0". */
  readonly startKey?: string;
  /** At most this many keys (count_only: not applied, every matching key is counted). */
  readonly limit: number;
  /** Values left empty (and not counted). */
  readonly keysOnly?: boolean;
  /** No keys, only how many match, in `count`. */
  readonly countOnly?: boolean;
  /** The answer's cap, counted as kvAnswerBytes summed (--max-response-bytes). */
  readonly maxBytes: number;
}

export interface RangeAnswer {
  readonly kvs: KeyValue[];
  /** More keys matched than `limit`. */
  readonly more: boolean;
  /** count_only: the number of matching keys. */
  readonly count?: number;
  /** The answer's bytes as counted against maxBytes. */
  readonly bytes: number;
}

/**
 * An answer over the cap (gRPC resource_exhausted). `answerBytes` is where counting stopped: the
 * first key that took it over the cap included. `keysThatFit`: keys that fit before it (the page
 * size to ask for). `appliedRevision`: a transaction found too large only after it was applied
 * (its writes happened at that revision; 0: nothing was applied).
 */
export class AnswerTooLargeError extends Error {
  override readonly name = 'AnswerTooLargeError';
  constructor(
    readonly answerBytes: number,
    readonly maxBytes: number,
    readonly keysThatFit: number,
    readonly appliedRevision = 0,
  ) {
    const applied =
      appliedRevision > 0 ? `the transaction was applied (revision ${appliedRevision}) but its answer` : 'the answer';
    super(
      `answer too large: ${applied} passed ${answerBytes} bytes after ${keysThatFit} keys, over the limit of ` +
        `${maxBytes} bytes (--max-response-bytes); read it in pages: a limit of at most ${Math.max(1, keysThatFit)} ` +
        `and then start_key = the last key returned + "\\u0000", or ask for keys_only or count_only ` +
        `(the client library's scan and \`leasekv scan\` page by themselves)`,
    );
  }
}

/** The answer being built: counts keys and bytes, throws once over the cap. */
class Builder {
  readonly kvs: KeyValue[] = [];
  n = 0;
  bytes = 0;
  more = false;

  constructor(private readonly q: RangeQuery) {}

  /**
   * One more matching key: 'take' it (counted), or 'stop' (the limit is reached: `more`). Throws
   * AnswerTooLargeError once the answer would pass the cap. (count_only answers do not come here.)
   */
  admit(keyBytes: number, valueBytes: number): 'take' | 'stop' {
    if (this.n >= this.q.limit) {
      this.more = true;
      return 'stop';
    }
    const size = kvAnswerBytes(keyBytes, this.q.keysOnly === true ? 0 : valueBytes);
    if (this.bytes + size > this.q.maxBytes) throw new AnswerTooLargeError(this.bytes + size, this.q.maxBytes, this.n);
    this.bytes += size;
    this.n++;
    return 'take';
  }

  answer(): RangeAnswer {
    return { kvs: this.kvs, more: this.more, bytes: this.bytes };
  }
}

/** The entry at (page, pos) as a KeyValue; its value left empty with keysOnly (not decoded). */
function readKv(page: Page, pos: number, keysOnly: boolean): KeyValue {
  boundEntry(page, pos);
  const buf = page.buf;
  const key = buf.toString('utf8', entryAt.ks, entryAt.ke);
  const value = keysOnly ? '' : buf.toString('utf8', entryAt.vs, entryAt.ve);
  const create = readVarint(buf, entryAt.ve);
  const mod = readVarint(buf, cursor.end);
  return { key, value, create, mod, version: readVarint(buf, cursor.end) };
}

function startsWith(buf: Uint8Array, s: number, e: number, prefix: Uint8Array): boolean {
  if (e - s < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[s + i] !== prefix[i]) return false;
  return true;
}

/**
 * The keys with `q.prefix` from `q.startKey` on, as the store holds them; with `changed` (a read at
 * a past revision: every key changed since, as it was then, null where it did not exist), those keys
 * as they were instead. Throws AnswerTooLargeError once the answer passes q.maxBytes.
 */
export function rangeAnswer(
  store: KeyStore,
  q: RangeQuery,
  changed?: ReadonlyMap<string, KeyValue | null>,
): RangeAnswer {
  if (!Number.isSafeInteger(q.limit) || q.limit < 0) throw new RangeError(`limit must be an integer >= 0: ${q.limit}`);
  const prefix = Buffer.from(q.prefix, 'utf8');
  const startKey = q.startKey === undefined ? prefix : Buffer.from(q.startKey, 'utf8');
  const from = Buffer.compare(startKey, prefix) > 0 ? startKey : prefix;
  if (q.countOnly === true) return { kvs: [], more: false, count: countAnswer(store, prefix, from, changed), bytes: 0 };
  const keysOnly = q.keysOnly === true;
  const out = new Builder(q);
  // The changed keys that existed then and are in range, in byte order, merged with the store's.
  const then: { kb: Buffer; kv: KeyValue }[] = [];
  for (const kv of changed?.values() ?? []) {
    if (kv === null) continue;
    const kb = Buffer.from(kv.key, 'utf8');
    if (startsWith(kb, 0, kb.length, prefix) && Buffer.compare(kb, from) >= 0) then.push({ kb, kv });
  }
  then.sort((a, b) => Buffer.compare(a.kb, b.kb));
  let ti = 0;
  /** Adds a key as it was then; false: stop (the limit is reached). */
  const takeThen = (kv: KeyValue): boolean => {
    const a = out.admit(Buffer.byteLength(kv.key), Buffer.byteLength(kv.value));
    if (a === 'take') out.kvs.push(keysOnly ? { ...kv, value: '' } : kv);
    return a !== 'stop';
  };
  let stopped = false;
  store.scan(from.toString('utf8'), (page, pos) => {
    boundEntry(page, pos);
    const { ks, ke } = entryAt;
    if (!startsWith(page.buf, ks, ke, prefix)) return false;
    for (; ti < then.length; ti++) {
      const t = then[ti] as { kb: Buffer; kv: KeyValue };
      if (compareBytes(t.kb, 0, t.kb.length, page.buf, ks, ke) >= 0) break;
      if (!takeThen(t.kv)) {
        stopped = true;
        return false;
      }
    }
    if (changed !== undefined && changed.size > 0 && changed.has(page.buf.toString('utf8', ks, ke))) return true;
    boundEntry(page, pos);
    const a = out.admit(entryAt.ke - entryAt.ks, entryAt.ve - entryAt.vs);
    if (a === 'take') out.kvs.push(readKv(page, pos, keysOnly));
    stopped = a === 'stop';
    return !stopped;
  });
  while (!stopped && ti < then.length && takeThen((then[ti++] as { kb: Buffer; kv: KeyValue }).kv));
  return out.answer();
}

/**
 * A count_only answer without scanning (session 13): the store counts the keys from `from` to the
 * end of the prefix by its pages (KeyStore.countBetween); at a past revision (`changed`), the keys
 * changed since are taken out as they are now and put back as they were then — O(changed keys).
 */
function countAnswer(
  store: KeyStore,
  prefix: Buffer,
  from: Buffer,
  changed: ReadonlyMap<string, KeyValue | null> | undefined,
): number {
  let n = store.countBetween(from, prefixEnd(prefix));
  for (const [key, then] of changed ?? []) {
    const kb = Buffer.from(key, 'utf8');
    if (!startsWith(kb, 0, kb.length, prefix) || Buffer.compare(kb, from) < 0) continue;
    if (store.has(key)) n--;
    if (then !== null) n++;
  }
  return n;
}

/** The first byte string after every key that starts with `prefix` (null: none, e.g. the empty prefix). */
export function prefixEnd(prefix: Uint8Array): Buffer | null {
  let i = prefix.length;
  while (i > 0 && prefix[i - 1] === 0xff) i--;
  if (i === 0) return null;
  const end = Buffer.from(prefix.subarray(0, i));
  end[i - 1] = (end[i - 1] as number) + 1;
  return end;
}

/** The bytes of a Get's or a Range's share of an answer (a transaction's results). */
export function kvsAnswerBytes(kvs: readonly KeyValue[]): number {
  let n = 0;
  for (const kv of kvs) n += kvAnswerBytes(Buffer.byteLength(kv.key), Buffer.byteLength(kv.value));
  return n;
}

/** A transaction's answer in bytes: its gets' and ranges' keys, counted as a Range's are. */
export function txnAnswerBytes(results: readonly TxnOpResult[]): number {
  let n = 0;
  for (const o of results) {
    if (o.op === 'get' && o.kv !== undefined) n += kvsAnswerBytes([o.kv]);
    else if (o.op === 'range') n += kvsAnswerBytes(o.kvs);
  }
  return n;
}

/** What checkTxnAnswer reads: the state machine's current state. */
export interface TxnAnswerSource {
  getKv(key: string): KeyValue | undefined;
  rangeAnswer(q: RangeQuery): RangeAnswer;
}

/**
 * On the leader, before a transaction is proposed: its answer if it ran now (the branch its
 * comparisons choose now, its gets and ranges over the current state), counted under the cap; throws
 * AnswerTooLargeError with nothing applied. The transaction's own writes are not seen here, and the
 * state may change before it applies: the count of the applied answer (txnAnswerBytes) is the last word.
 */
export function checkTxnAnswer(src: TxnAnswerSource, body: TxnBody, maxBytes: number): void {
  const reads = (o: TxnBody['success'][number]): boolean => o.op === 'get' || o.op === 'range';
  if (!body.success.some(reads) && !body.failure.some(reads)) return; // a write-only transaction: nothing to count
  const absent = { value: undefined, version: 0, create: 0, mod: 0 };
  const succeeded = body.compares.every((c) => compareHolds(c, src.getKv(c.key) ?? absent));
  let bytes = 0;
  let keys = 0;
  for (const o of succeeded ? body.success : body.failure) {
    if (o.op === 'get') {
      const kv = src.getKv(o.key);
      const size = kv === undefined ? 0 : kvsAnswerBytes([kv]);
      if (bytes + size > maxBytes) throw new AnswerTooLargeError(bytes + size, maxBytes, keys);
      bytes += size;
      keys += kv === undefined ? 0 : 1;
    } else if (o.op === 'range') {
      try {
        const a = src.rangeAnswer({ prefix: o.prefix, limit: o.limit, maxBytes: maxBytes - bytes });
        bytes += a.bytes;
        keys += a.kvs.length;
      } catch (e) {
        if (e instanceof AnswerTooLargeError)
          throw new AnswerTooLargeError(bytes + e.answerBytes, maxBytes, keys + e.keysThatFit);
        throw e;
      }
    }
  }
}
