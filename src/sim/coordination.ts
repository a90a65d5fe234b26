// The coordination features of issue 14 in a simulated run: watch clients on every seed (they only
// read, from their own random stream, so they change nothing else in the run) and TTL clients on
// half the seeds (and on every seed of a TTL mutant), with their oracles (oracles-watch.ts,
// oracles-ttl.ts). world.ts owns one of these; cluster.ts tells it when the faults stop.
import type { Entry, NodeId } from '../raft/types.ts';
import type { RaftStatus } from '../raft/node.ts';
import type { ApplyResult, ChangeEvent } from '../kv/machine.ts';
import { decodeCommand } from '../kv/command.ts';
import type { SimNode } from './node.ts';
import { WatchOracle } from './oracles-watch.ts';
import { POLL_US, TtlOracle } from './oracles-ttl.ts';
import type { Prng } from './prng.ts';
import type { Scenario } from './scenario.ts';
import { SimTtlClient } from './ttl-clients.ts';
import { SimWatchers } from './watchers.ts';

export interface CoordWorld {
  readonly nowUs: number;
  after(us: number, fn: () => void): void;
  nodes(): readonly NodeId[];
  node(id: NodeId): SimNode;
  trace(what: () => string): void;
  violation(what: string): void;
  /** The unique leader that is up and running (not paused), with its term; null if none. */
  leader(): { node: NodeId; term: number } | null;
}

const TTL_MUTANTS: readonly string[] = ['ttl-no-restart-on-leader-change', 'ttl-expire-early'];

export class Coordination {
  readonly watchOracle: WatchOracle;
  readonly ttlOracle: TtlOracle;
  private readonly watchers: SimWatchers;
  private readonly ttlClients: SimTtlClient[] = [];
  private polling = false;

  constructor(
    rng: Prng,
    s: Scenario,
    private readonly world: CoordWorld,
  ) {
    const v = (what: string): void => world.violation(what);
    this.watchOracle = new WatchOracle(v);
    this.ttlOracle = new TtlOracle(v, s.timing.maxClockDriftRate, s.timing.heartbeatIntervalMs);
    this.watchers = new SimWatchers(rng.fork(), world, this.watchOracle, s.faultPhaseMs * 1000);
    const ttlRng = rng.fork();
    const ttlOn = (s.mutant !== null && TTL_MUTANTS.includes(s.mutant)) || ttlRng.chance(0.5);
    const n = ttlOn ? ttlRng.int(1, 2) : 0;
    for (let c = 0; c < n; c++) this.ttlClients.push(new SimTtlClient(c, ttlRng.fork(), world, this.ttlOracle));
  }

  get ttlClientCount(): number {
    return this.ttlClients.length;
  }

  start(): void {
    this.watchers.start();
    for (const c of this.ttlClients) c.start();
  }

  /** Liveness phase: TTL clients stop keeping alive; the late bound is polled from now on. */
  faultsStopped(): void {
    for (const c of this.ttlClients) c.stop();
    if (this.ttlClients.length > 0 && !this.polling) {
      this.polling = true;
      this.poll();
    }
  }

  /** The run ends. */
  end(): void {
    this.polling = false;
    this.watchers.stop();
  }

  /** Stopped TTL grants that have not ended yet: the liveness phase waits for them. */
  get pending(): boolean {
    return this.ttlOracle.pending;
  }

  onChanges(revision: number, events: readonly ChangeEvent[]): void {
    this.watchOracle.onChanges(revision, events);
  }

  onApply(node: NodeId, e: Entry, result: ApplyResult | null): void {
    if (result?.op !== 'ttl-expire' || !result.found) return;
    const cmd = decodeCommand(e.data);
    if (cmd.op === 'ttl-expire') this.ttlOracle.onExpired(cmd.id, node, this.world.nowUs);
  }

  private poll(): void {
    if (!this.polling) return;
    const l = this.world.leader();
    // The late bound's commit round trip presumes a majority that takes appends: a leader whose
    // majority waits for snapshots (after a long partition) commits no expire until they are in.
    const h = l === null ? null : this.world.node(l.node).host;
    const counting = h?.ttlCountdowns.active === true && takesAppends(h.status()) ? l : null;
    this.ttlOracle.poll(counting, this.world.nowUs);
    this.world.after(POLL_US, () => this.poll());
  }

  /** One line for the run's summary (verbose). */
  describe(): string {
    const w = this.watchOracle;
    const t = this.ttlOracle;
    return (
      `watch: ${w.resumes} streams, ${w.batches} batches, ${w.events} events; ` +
      `ttl: ${this.ttlClients.length} clients, ${t.keepAlives} keep-alives, ${t.expired} expiries (${t.boundedEnds} under the late bound)`
    );
  }
}

/** Some majority of the leader's voters takes appends (none of it waits for a snapshot or is probed). */
function takesAppends(st: RaftStatus): boolean {
  const ok = st.confState.voters.filter((v) => v === st.id || st.progress[v]?.state === 'replicate');
  return ok.length * 2 > st.confState.voters.length;
}
