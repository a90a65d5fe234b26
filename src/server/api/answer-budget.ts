// A bound on the answer bytes of Range and Txn calls being built at once on a node (session 10).
// The per-answer cap (--max-response-bytes) bounds one answer; the in-flight counts bound how many,
// so without this, 256 Ranges of 2 MB at once from one client (its share of maxInFlight) were
// ~540 MB being read, cloned to this thread and encoded together: the leader reached 1.0–1.2 GiB and
// lost its lease (docs/benchmarks.md, "Session 10: answer byte cap"). Each call reserves what its
// answer may hold at most before it is sent to the node, and gives it back once answered; a call
// that would pass the budget is refused at once with resource_exhausted (retryable, like the
// in-flight budget: the client library backs off and retries). Gets are not counted: one value each,
// bounded by the in-flight counts, on the lease-read path that must stay lean.
import { Code, ConnectError } from '@connectrpc/connect';
import { kvAnswerBytes } from '../../kv/range.ts';
import type { RangeRequest, TxnRequest } from '../backend.ts';
import type { ApiLimits } from './limits.ts';

/** The most a Range's answer may hold: its limit of the largest keys and values, within the cap. */
export function rangeReservation(r: RangeRequest, limits: ApiLimits): number {
  if (r.countOnly === true) return 0;
  const one = kvAnswerBytes(limits.maxKeyBytes, r.keysOnly === true ? 0 : limits.maxValueBytes);
  return Math.min(limits.maxResponseBytes, r.limit * one);
}

/** The most a Txn's answer may hold: its gets and ranges (the larger branch), within the cap. */
export function txnReservation(t: TxnRequest, limits: ApiLimits): number {
  const branch = (ops: TxnRequest['success']): number => {
    let keys = 0;
    for (const o of ops) keys += o.op === 'get' ? 1 : o.op === 'range' ? o.limit : 0;
    return keys * kvAnswerBytes(limits.maxKeyBytes, limits.maxValueBytes);
  };
  return Math.min(limits.maxResponseBytes, Math.max(branch(t.success), branch(t.failure)));
}

export class AnswerBudget {
  #held = 0;
  /** Calls refused by this budget since start (for metrics and tests). */
  refused = 0;

  constructor(readonly maxBytes: number) {}

  get held(): number {
    return this.#held;
  }

  /** Runs `fn` holding `bytes` of the budget; refuses at once (resource_exhausted) when they do not fit. */
  async with<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    if (bytes === 0) return fn();
    // One call alone is always admitted (maxBytes >= maxResponseBytes is validated, but be whole).
    if (this.#held > 0 && this.#held + bytes > this.maxBytes) {
      this.refused++;
      throw new ConnectError(
        `too many answer bytes being built at once on this node: ${this.#held} held + ${bytes} for this call is over ` +
          `${this.maxBytes} (--max-pending-response-bytes); retry later, or ask for fewer keys (limit) or keys_only`,
        Code.ResourceExhausted,
      );
    }
    this.#held += bytes;
    try {
      return await fn();
    } finally {
      this.#held -= bytes;
    }
  }
}
