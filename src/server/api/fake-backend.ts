// An in-memory KvBackend for tests of the API, the client and the CLI. Not a node: one map, an
// optional "follower" mode that answers NotLeader with a hint, sessions kept per client id, and
// hooks to inject delays and failures.
import {
  NotLeaderError,
  type CasRequest,
  type CasResult,
  type DeleteRequest,
  type DeleteResult,
  type GetRequest,
  type GetResult,
  type KvBackend,
  type PutRequest,
  type PutResult,
  type RangeRequest,
  type RangeResult,
  type SessionRef,
  type StatusResult,
} from '../backend.ts';

export interface FakeBackendOptions {
  readonly id?: string;
  /** When set, linearizable operations fail with NotLeader(leaderId, leaderClientAddr). */
  readonly followerOf?: { readonly leaderId: string; readonly leaderClientAddr: string } | undefined;
  /** Delay before each operation answers (honours the abort signal). */
  readonly delayMs?: number;
}

type Answer = PutResult | DeleteResult | CasResult;

export class FakeBackend implements KvBackend {
  readonly data = new Map<string, string>();
  /** Writes actually applied (a retried session write does not count twice). */
  applied = 0;
  /** Every call, for assertions: method name and the request. */
  readonly calls: { method: string; req: unknown }[] = [];
  /** Thrown (once each, in order) by the next operations, before they do anything. */
  readonly failNext: Error[] = [];
  /** Thrown (once each) by the next writes *after* they applied: a lost answer, as after a leader change. */
  readonly failAfterApply: Error[] = [];
  id: string;
  followerOf: FakeBackendOptions['followerOf'];
  delayMs: number;
  #index = 0;
  readonly #sessions = new Map<string, { seq: number; answer: Answer }>();

  constructor(opts: FakeBackendOptions = {}) {
    this.id = opts.id ?? 'n1';
    this.followerOf = opts.followerOf;
    this.delayMs = opts.delayMs ?? 0;
  }

  async #enter(method: string, req: unknown, signal: AbortSignal | undefined, needsLeader: boolean): Promise<void> {
    this.calls.push({ method, req });
    if (this.delayMs > 0) await sleep(this.delayMs, signal);
    const fail = this.failNext.shift();
    if (fail !== undefined) throw fail;
    if (needsLeader && this.followerOf !== undefined) {
      throw new NotLeaderError(this.followerOf.leaderId, this.followerOf.leaderClientAddr);
    }
  }

  #write<T extends Answer>(session: SessionRef | undefined, apply: () => T): T {
    if (session !== undefined) {
      const s = this.#sessions.get(session.clientId);
      if (s !== undefined && s.seq === session.seq) return s.answer as T;
    }
    this.applied++;
    this.#index++;
    const answer = apply();
    if (session !== undefined) this.#sessions.set(session.clientId, { seq: session.seq, answer });
    const lost = this.failAfterApply.shift();
    if (lost !== undefined) throw lost;
    return answer;
  }

  async put(req: PutRequest, signal: AbortSignal): Promise<PutResult> {
    await this.#enter('put', req, signal, true);
    return this.#write(req.session, () => {
      this.data.set(req.key, req.value);
      return { index: this.#index };
    });
  }

  async get(req: GetRequest, signal: AbortSignal): Promise<GetResult> {
    await this.#enter('get', req, signal, req.consistency === 'linearizable');
    const value = this.data.get(req.key);
    const stale = req.consistency === 'stale';
    return { found: value !== undefined, value: value ?? '', index: this.#index, readMode: stale ? 'stale' : 'lease', staleByMs: stale && this.followerOf !== undefined ? 42 : 0 };
  }

  /** Like the node: answers at once when nothing would make get() wait or fail. */
  getNow(req: GetRequest): GetResult | null {
    if (this.delayMs > 0 || this.failNext.length > 0 || (req.consistency === 'linearizable' && this.followerOf !== undefined)) return null;
    this.calls.push({ method: 'get', req });
    const value = this.data.get(req.key);
    const stale = req.consistency === 'stale';
    return { found: value !== undefined, value: value ?? '', index: this.#index, readMode: stale ? 'stale' : 'lease', staleByMs: stale && this.followerOf !== undefined ? 42 : 0 };
  }

  async delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult> {
    await this.#enter('delete', req, signal, true);
    return this.#write(req.session, () => ({ deleted: this.data.delete(req.key), index: this.#index }));
  }

  async compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult> {
    await this.#enter('compareAndSwap', req, signal, true);
    return this.#write(req.session, () => {
      const cur = this.data.get(req.key);
      const ok = req.expected === null ? cur === undefined : cur === req.expected;
      if (ok) this.data.set(req.key, req.value);
      return ok || cur === undefined ? { swapped: ok, index: this.#index } : { swapped: false, current: cur, index: this.#index };
    });
  }

  async range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult> {
    await this.#enter('range', req, signal, req.consistency === 'linearizable');
    const keys = [...this.data.keys()].filter((k) => k.startsWith(req.prefix)).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const kvs = keys.slice(0, req.limit).map((key) => ({ key, value: this.data.get(key) ?? '' }));
    return { kvs, more: keys.length > req.limit, index: this.#index };
  }

  async status(): Promise<StatusResult> {
    await this.#enter('status', {}, undefined, false);
    const leader = this.followerOf === undefined ? this.id : this.followerOf.leaderId;
    return {
      id: this.id,
      role: this.followerOf === undefined ? 'leader' : 'follower',
      term: 3,
      leader,
      leaderClientAddr: this.followerOf?.leaderClientAddr ?? '',
      commitIndex: this.#index,
      appliedIndex: this.#index,
      leaseHeld: this.followerOf === undefined,
      leaseRemainingMs: this.followerOf === undefined ? 850 : 0,
      oldLeaseRemainingMs: 0,
      members: [{ id: this.id, peerAddr: '127.0.0.1:7101', clientAddr: '127.0.0.1:7001' }],
      keys: this.data.size,
      version: 'fake',
    };
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }, { once: true });
  });
}
