// Simulated TTL clients (issue 14): each grants a TTL, attaches one or two keys to it (`t<client>.<j>`,
// keys the read/write clients never touch, so the linearizability history stays put/get only),
// keeps it alive every ttl/3 for a few rounds through whoever it believes leads, then stops and
// lets it expire, and starts again. Requests reach the real host as the server's handlers do
// (src/server/node.ts: TtlGrant and Put are proposals, TtlKeepAlive is SimHost.ttlKeepAlive). The
// true instant a node answers a grant or keep-alive goes to the TTL oracle (oracles-ttl.ts) whether
// or not the answer reaches the client. When the faults stop, every client stops keeping alive and
// grants nothing more, so the liveness phase can check that the stopped grants end in time.
import type { NodeId } from '../raft/types.ts';
import type { Command } from '../kv/command.ts';
import type { SimNode } from './node.ts';
import { SimError } from './node-parts.ts';
import type { TtlOracle } from './oracles-ttl.ts';
import type { Prng } from './prng.ts';

export interface TtlWorld {
  readonly nowUs: number;
  after(us: number, fn: () => void): void;
  nodes(): readonly NodeId[];
  node(id: NodeId): SimNode;
  trace(what: () => string): void;
}

type Answer = { ok: true; id: number } | { ok: false; hint: NodeId | null; gone: boolean };

/** A request's answer that has not arrived after this long is given up on (the node may answer later). */
const TIMEOUT_US = 3_000_000;

export class SimTtlClient {
  private guess: NodeId;
  private seq = 0;
  private grant: { id: number; ttlMs: number; rounds: number } | null = null;
  private stopped = false;
  private values = 0;

  constructor(
    private readonly id: number,
    private readonly rng: Prng,
    private readonly world: TtlWorld,
    private readonly oracle: TtlOracle,
  ) {
    this.guess = rng.pick(world.nodes());
  }

  start(): void {
    this.world.after(this.rng.int(1, 2_000_000), () => this.newGrant());
  }

  /** The faults stopped: no more keep-alives or grants. */
  stop(): void {
    this.stopped = true;
    if (this.grant !== null) this.oracle.onStopped(this.grant.id);
    this.grant = null;
  }

  private newGrant(): void {
    if (this.stopped) return;
    const ttlMs = this.rng.int(300, 2500);
    this.call({ op: 'ttl-grant', ttlMs }, null, (a) => {
      if (!a.ok) return this.world.after(this.rng.int(50_000, 400_000), () => this.newGrant());
      this.grant = { id: a.id, ttlMs, rounds: this.rng.int(0, 8) };
      const keys = this.rng.int(1, 2);
      for (let j = 0; j < keys; j++)
        this.call(
          { op: 'put', key: `t${this.id}.${j}`, value: `t${this.id}-${++this.values}`, ttl: a.id },
          null,
          () => {},
        );
      this.keepAliveLater(a.id);
    });
  }

  private keepAliveLater(id: number): void {
    const g = this.grant;
    if (g === null || g.id !== id) return;
    this.world.after(Math.round((g.ttlMs * 1000) / 3), () => {
      if (this.grant?.id !== id) return;
      if (g.rounds-- <= 0) {
        // Done with it: let it expire, then start again.
        this.oracle.onStopped(id);
        this.grant = null;
        this.world.after(this.rng.int(0, 2 * g.ttlMs * 1000), () => this.newGrant());
        return;
      }
      this.call(null, id, (a) => {
        if (!a.ok && a.gone && this.grant?.id === id) {
          this.world.trace(() => `ttl client ${this.id}: grant ${id} is gone`);
          this.oracle.onStopped(id);
          this.grant = null;
          this.world.after(this.rng.int(0, 500_000), () => this.newGrant());
        }
      });
      this.keepAliveLater(id);
    });
  }

  /** Sends a command (or, with `keepAlive`, a keep-alive of that grant) to the node it believes leads. */
  private call(cmd: Command | null, keepAlive: number | null, cb: (a: Answer) => void): void {
    const seq = ++this.seq;
    const target = this.rng.chance(0.1) ? this.rng.pick(this.world.nodes()) : this.guess;
    let settled = false;
    const settle = (a: Answer): void => {
      if (settled) return;
      settled = true;
      if (!a.ok && a.hint !== null) this.guess = a.hint;
      else if (!a.ok) this.guess = this.rng.pick(this.world.nodes());
      cb(a);
    };
    const lat = (): number => this.rng.int(100, 2000);
    this.world.after(lat(), () => {
      const node = this.world.node(target);
      node.inProcess(() => {
        const host = node.host!;
        const answer = (a: Answer): void => {
          this.world.trace(
            () =>
              `ttl client ${this.id}: ${target} answers ${cmd === null ? `keep-alive ${keepAlive}` : cmd.op}: ${a.ok ? 'ok' + (a.id > 0 ? ' ' + a.id : '') : 'failed'}`,
          );
          if (a.ok && (cmd === null || cmd.op === 'ttl-grant'))
            this.oracle.onAnswered(
              a.id,
              cmd?.op === 'ttl-grant' ? cmd.ttlMs : 0,
              this.id,
              this.world.nowUs,
              cmd === null,
            );
          this.world.after(lat(), () => settle(a));
        };
        const failed = (err: Error | null, gone = false): void => {
          const hint = err instanceof SimError ? err.hint : null;
          answer({ ok: false, hint, gone: gone || (err instanceof SimError && err.kind === 'not-found') });
        };
        if (cmd === null) {
          host.ttlKeepAlive(keepAlive!, (err) => (err === null ? answer({ ok: true, id: keepAlive! }) : failed(err)));
          return;
        }
        host.proposeCommand(cmd, (err, out) => {
          if (out === null) return failed(err);
          const r = out.result;
          // As the server's TtlGrant: answered only as a keep-alive would be (src/server/node.ts).
          if (r.op === 'ttl-grant')
            return host.ttlKeepAlive(r.id, (e) => (e === null ? answer({ ok: true, id: r.id }) : failed(e)));
          if (r.op === 'put') return answer({ ok: true, id: 0 });
          failed(null, r.op === 'ttl-not-found');
        });
      });
    });
    this.world.after(TIMEOUT_US, () => {
      if (!settled) this.world.trace(() => `ttl client ${this.id}: request ${seq} timed out`);
      settle({ ok: false, hint: null, gone: false });
    });
  }
}
