// Simulated clients: each has at most one operation outstanding (the history format's rule), writes
// unique values, reads throughout and follows leader hints. Writes carry a client session: a write
// whose outcome is unknown (a timeout, leadership lost, a stopped node) is retried with the SAME
// session and sequence number (exactly-once, docs/design.md), up to MAX_ATTEMPTS, then given up
// (outcome unknown; the client starts a new session). Every completed operation is checked against
// the stale-read oracle and recorded.
import type { HistoryOp } from '../check/history.ts';
import type { NodeId } from '../raft/types.ts';
import type { ClientRequest, ClientResponse, SimEvent } from './events.ts';
import type { Oracles } from './oracles.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from './scenario.ts';

export interface ClientWorld {
  readonly nowUs: number;
  schedule(atUs: number, ev: SimEvent): void;
  /** Sends a request to a node (client links are reliable; a down node never answers). */
  request(node: NodeId, req: ClientRequest): void;
  trace(what: () => string): void;
  /** A fault script asked clients to only read for a while. */
  readonly writesPaused: boolean;
  /** The members clients know of (changes as members are added and removed). */
  nodes(): readonly NodeId[];
}

interface InFlight {
  readonly req: ClientRequest;
  readonly callUs: number;
  readonly node: NodeId;
  /** An earlier attempt may have been applied: a definite failure of a later one settles nothing. */
  readonly uncertain: boolean;
}

/** Attempts of one write (same session and seq) before the client gives up on it. */
const MAX_ATTEMPTS = 8;

export class SimClient {
  private opId = 0;
  private current: InFlight | null = null;
  /** A write waiting to be sent again (same session and seq). */
  private pendingRetry: { req: ClientRequest; callUs: number; uncertain: boolean } | null = null;
  private guess: NodeId;
  /** The session: a new one after a write is given up on (its seq may or may not have been applied). */
  private sessionNo = 0;
  private nextSeq = 1;
  /** Call time of the latest operation that completed ok (for the liveness check). */
  lastOkCallUs = -1;

  constructor(
    readonly id: number,
    private readonly s: Scenario,
    private readonly rng: Prng,
    private readonly world: ClientWorld,
    private readonly oracles: Oracles,
    private readonly history: HistoryOp[],
  ) {
    this.guess = rng.pick(world.nodes());
  }

  get busy(): boolean {
    return this.current !== null || this.pendingRetry !== null;
  }

  onNext(): void {
    if (this.busy) return;
    const key = `k${this.rng.int(0, this.s.keys - 1)}`;
    const opId = ++this.opId;
    const session = `c${this.id}.${this.sessionNo}`;
    const base = { client: this.id, opId, attempt: 1, key, session, seq: this.nextSeq };
    const req: ClientRequest =
      this.rng.chance(this.s.writeRatio) && !this.world.writesPaused
        ? { ...base, op: 'put', value: `c${this.id}-${opId}` }
        : { ...base, op: 'get' };
    if (req.value !== undefined) this.oracles.onProposed(req.value);
    // Now and then ask somebody else: a client's view of the leader is never authoritative.
    const node = this.rng.chance(0.1) ? this.rng.pick(this.world.nodes()) : this.guess;
    this.send(req, this.world.nowUs, node, false);
  }

  private send(req: ClientRequest, callUs: number, node: NodeId, uncertain: boolean): void {
    this.current = { req, callUs, node, uncertain };
    this.world.request(node, req);
    const at = this.world.nowUs + this.s.clientTimeoutMs * 1000;
    this.world.schedule(at, { k: 'clientTimeout', client: this.id, opId: req.opId, attempt: req.attempt });
  }

  onResponse(resp: ClientResponse): void {
    const cur = this.current;
    if (cur === null || cur.req.opId !== resp.opId || cur.req.attempt !== resp.attempt) return; // late answer
    const { req, callUs } = cur;
    const now = this.world.nowUs;
    this.world.trace(
      () =>
        `client ${this.id} ${req.op} ${req.key}${req.value !== undefined ? `=${req.value} (session ${req.session} seq ${req.seq}, attempt ${req.attempt})` : ''} → ` +
        (resp.outcome === 'ok'
          ? `ok index ${resp.index} revision ${resp.revision}${req.op === 'get' ? ` value ${resp.value ?? '(absent)'} via ${resp.viaLease ? 'lease' : 'ReadIndex'}` : ''}`
          : `${resp.outcome} (hint ${resp.leaderHint ?? '-'})`) +
        ` from ${resp.from}`,
    );
    if (resp.outcome !== 'ok') {
      this.guess = resp.leaderHint ?? this.rng.pick(this.world.nodes().filter((n) => n !== resp.from));
      if (req.op === 'put' && (resp.outcome === 'unknown' || cur.uncertain))
        return this.retry(cur, resp.outcome === 'unknown');
      this.record({ ...this.base(req, callUs), return: now, outcome: 'fail' });
    } else if (req.op === 'put') {
      this.oracles.onWriteAcked(req.key, resp.index, resp.revision, now, req.value ?? '');
      this.record({ ...this.base(req, callUs), return: now, outcome: 'ok' });
      this.lastOkCallUs = callUs;
      this.nextSeq++;
    } else {
      this.oracles.checkRead(
        this.id,
        req.key,
        callUs,
        resp.revision,
        resp.value,
        `${resp.viaLease ? 'lease' : 'ReadIndex'} at ${resp.from}`,
      );
      const output = resp.value === null ? { found: false } : { found: true, value: resp.value };
      this.record({ ...this.base(req, callUs), return: now, outcome: 'ok', output });
      this.lastOkCallUs = callUs;
    }
    this.finish();
  }

  onTimeout(opId: number, attempt: number): void {
    const cur = this.current;
    if (cur === null || cur.req.opId !== opId || cur.req.attempt !== attempt) return;
    this.world.trace(() => `client ${this.id} ${cur.req.op} ${cur.req.key} timed out at ${cur.node} (unknown)`);
    // Another node next, as the client library moves on to another endpoint: a node that stays down
    // for good (a corrupted disk) must not hold a client past the liveness bound by chance.
    const others = this.world.nodes().filter((n) => n !== cur.node);
    this.guess = this.rng.pick(others.length > 0 ? others : this.world.nodes());
    if (cur.req.op === 'put') return this.retry(cur, true);
    this.record({ ...this.base(cur.req, cur.callUs), return: null, outcome: 'unknown' });
    this.finish();
  }

  /** The same write again (same session and seq), unless it has had its attempts: then given up. */
  private retry(cur: InFlight, unknown: boolean): void {
    if (cur.req.attempt >= MAX_ATTEMPTS) {
      this.record({ ...this.base(cur.req, cur.callUs), return: null, outcome: 'unknown' });
      this.sessionNo++;
      this.nextSeq = 1;
      this.finish();
      return;
    }
    const req: ClientRequest = { ...cur.req, attempt: cur.req.attempt + 1 };
    this.current = null;
    const delayUs = this.rng.int(1_000, 50_000);
    this.world.schedule(this.world.nowUs + delayUs, { k: 'clientRetry', client: this.id, opId: req.opId });
    this.pendingRetry = { req, callUs: cur.callUs, uncertain: cur.uncertain || unknown };
  }

  onRetry(opId: number): void {
    const r = this.pendingRetry;
    if (r === null || r.req.opId !== opId) return;
    this.pendingRetry = null;
    this.send(r.req, r.callUs, this.guess, r.uncertain);
  }

  /** The run ends: an operation still in flight may or may not take effect (outcome unknown). */
  abandon(): void {
    const cur = this.current ?? this.pendingRetry;
    if (cur === null) return;
    this.record({ ...this.base(cur.req, cur.callUs), return: null, outcome: 'unknown' });
    this.current = null;
    this.pendingRetry = null;
  }

  private finish(): void {
    this.current = null;
    const thinkUs = Math.round(this.rng.range(0, this.s.thinkMaxMs) * 1000);
    this.world.schedule(this.world.nowUs + thinkUs + 1, { k: 'clientNext', client: this.id });
  }

  private base(
    req: ClientRequest,
    callUs: number,
  ): { client: number; op: 'put' | 'get'; key: string; call: number; value?: string } {
    const b = { client: this.id, op: req.op, key: req.key, call: callUs };
    return req.value !== undefined ? { ...b, value: req.value } : b;
  }

  private record(op: HistoryOp): void {
    this.history.push(op);
  }
}
