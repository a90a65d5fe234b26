// Simulated clients: each has at most one operation outstanding (the history format's rule), writes
// unique values, reads throughout, follows leader hints, and gives up after a timeout (outcome
// unknown). Every completed operation is checked against the stale-read oracle and recorded.
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
}

export class SimClient {
  private seq = 0;
  private current: InFlight | null = null;
  private guess: NodeId;
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
    return this.current !== null;
  }

  onNext(): void {
    if (this.current !== null) return;
    const key = `k${this.rng.int(0, this.s.keys - 1)}`;
    const opId = ++this.seq;
    const req: ClientRequest =
      this.rng.chance(this.s.writeRatio) && !this.world.writesPaused
        ? { client: this.id, opId, op: 'put', key, value: `c${this.id}-${opId}` }
        : { client: this.id, opId, op: 'get', key };
    if (req.value !== undefined) this.oracles.onProposed(req.value);
    const now = this.world.nowUs;
    // Now and then ask somebody else: a client's view of the leader is never authoritative.
    const node = this.rng.chance(0.1) ? this.rng.pick(this.world.nodes()) : this.guess;
    this.current = { req, callUs: now, node };
    this.world.request(node, req);
    this.world.schedule(now + this.s.clientTimeoutMs * 1000, { k: 'clientTimeout', client: this.id, opId });
  }

  onResponse(resp: ClientResponse): void {
    const cur = this.current;
    if (cur === null || cur.req.opId !== resp.opId) return; // late answer to an abandoned request
    const { req, callUs } = cur;
    const now = this.world.nowUs;
    if (!resp.ok) {
      this.record({ ...this.base(req, callUs), return: now, outcome: 'fail' });
      this.guess = resp.leaderHint ?? this.rng.pick(this.world.nodes().filter((n) => n !== resp.from));
    } else if (req.op === 'put') {
      this.oracles.onWriteAcked(req.key, resp.index, now, req.value ?? '');
      this.record({ ...this.base(req, callUs), return: now, outcome: 'ok' });
      this.lastOkCallUs = callUs;
    } else {
      this.oracles.checkRead(
        this.id,
        req.key,
        callUs,
        resp.index,
        resp.value,
        `${resp.viaLease ? 'lease' : 'ReadIndex'} at ${resp.from}`,
      );
      const output = resp.value === null ? { found: false } : { found: true, value: resp.value };
      this.record({ ...this.base(req, callUs), return: now, outcome: 'ok', output });
      this.lastOkCallUs = callUs;
    }
    this.world.trace(
      () =>
        `client ${this.id} ${req.op} ${req.key}${req.value !== undefined ? '=' + req.value : ''} → ` +
        (resp.ok
          ? `ok index ${resp.index}${req.op === 'get' ? ` value ${resp.value ?? '(absent)'} via ${resp.viaLease ? 'lease' : 'ReadIndex'}` : ''}`
          : `fail (hint ${resp.leaderHint ?? '-'})`) +
        ` from ${resp.from}`,
    );
    this.finish();
  }

  onTimeout(opId: number): void {
    const cur = this.current;
    if (cur === null || cur.req.opId !== opId) return;
    this.record({ ...this.base(cur.req, cur.callUs), return: null, outcome: 'unknown' });
    this.world.trace(() => `client ${this.id} ${cur.req.op} ${cur.req.key} timed out at ${cur.node} (unknown)`);
    this.guess = this.rng.pick(this.world.nodes());
    this.finish();
  }

  /** The run ends: an operation still in flight may or may not take effect (outcome unknown). */
  abandon(): void {
    const cur = this.current;
    if (cur === null) return;
    this.record({ ...this.base(cur.req, cur.callUs), return: null, outcome: 'unknown' });
    this.current = null;
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
