// Admission of client requests: the in-flight budget and its fair shares (issue 5: back-pressure;
// issue 13: one client, however many connections or streams it opens, cannot take the budget from
// the others). A request is admitted or refused at once with resource_exhausted: nothing waits here,
// so no queue can grow and no request waits behind another source's (docs/api.md, "Limits").
//
// The rules, in order (limits.ts declares and validates the numbers):
//  1. at most maxInFlight requests in flight on the node;
//  2. at most maxInFlightPerConnection on one connection (HTTP/1.1 pipelining, HTTP/2 streams);
//  3. at most maxInFlightPerSource from one source address (all its connections together);
//  4. fair share: once half the budget is in use and another source has requests in flight, a
//     source may hold at most maxInFlight / (active sources + 1). The "+ 1" keeps a share free for
//     a source that has nothing in flight yet, so a newcomer (a probe, a health check, another
//     client) is admitted while greedy sources are held to their shares.
import { Code, ConnectError } from '@connectrpc/connect';
import type { ApiLimits } from './limits.ts';

/** One client connection's requests in flight, and the source address it counts against. */
export interface ConnShare {
  inFlight: number;
  /** The peer's IP address (the front end's notion of a source); '' when unknown. */
  readonly source: string;
}

export type AdmissionLimits = Pick<ApiLimits, 'maxInFlight' | 'maxInFlightPerConnection' | 'maxInFlightPerSource'>;

export class Admission {
  #inFlight = 0;
  /**
   * Requests in flight per source address. Invariant: holds exactly the sources with at least one
   * request in flight (an entry is removed when its count returns to 0), so its size is the number
   * of active sources and it never holds more than maxInFlight entries.
   */
  readonly #bySource = new Map<string, number>();
  /** Requests refused, in all (for metrics). */
  refused = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Sources with requests in flight now. */
  get activeSources(): number {
    return this.#bySource.size;
  }

  /** Takes a slot for one request, or throws ConnectError resource_exhausted saying which limit. */
  enter(conn: ConnShare | undefined): void {
    const why = this.refusal(conn);
    if (why !== null) {
      this.refused++;
      throw new ConnectError(why, Code.ResourceExhausted);
    }
    if (conn !== undefined) {
      conn.inFlight++;
      this.#bySource.set(conn.source, (this.#bySource.get(conn.source) ?? 0) + 1);
    }
    this.#inFlight++;
  }

  /**
   * Why a request on `conn` would be refused now (the message of its resource_exhausted), or null.
   * Takes nothing: rpc.ts asks it before any request work, so that a refusal costs almost nothing.
   */
  refusal(conn: ConnShare | undefined): string | null {
    const l = this.limits;
    if (this.#inFlight >= l.maxInFlight) return `server busy: ${l.maxInFlight} requests in flight; retry with backoff`;
    if (conn === undefined) return null;
    if (conn.inFlight >= l.maxInFlightPerConnection)
      return `this connection has ${l.maxInFlightPerConnection} requests in flight (the per-connection share); retry with backoff or use more connections`;
    const mine = this.#bySource.get(conn.source) ?? 0;
    if (mine >= l.maxInFlightPerSource)
      return `source ${conn.source} has ${l.maxInFlightPerSource} requests in flight (the per-source share of ${l.maxInFlight}); retry with backoff`;
    const others = this.#bySource.size - (mine > 0 ? 1 : 0);
    if (others > 0 && this.#inFlight * 2 >= l.maxInFlight && mine >= fairShare(l.maxInFlight, others + 1))
      return `server busy: source ${conn.source} has ${mine} requests in flight, its fair share while ${others + 1} sources compete for ${l.maxInFlight}; retry with backoff`;
    return null;
  }

  /** Counts a refusal made without enter() (rpc.ts answering before any request work). */
  countRefusal(): void {
    this.refused++;
  }

  /** Gives back the slot enter() took (exactly once per successful enter). */
  leave(conn: ConnShare | undefined): void {
    this.#inFlight--;
    if (conn === undefined) return;
    conn.inFlight--;
    const left = (this.#bySource.get(conn.source) ?? 1) - 1;
    if (left <= 0) this.#bySource.delete(conn.source);
    else this.#bySource.set(conn.source, left);
  }
}

/** A source's share of `budget` while `active` sources have requests in flight (one share kept free). */
export function fairShare(budget: number, active: number): number {
  return Math.max(1, Math.floor(budget / (active + 1)));
}
