// Swarm testing: each seed draws its own mix of faults and their intensities, so that across many
// seeds every fault is exercised alone and in combination (Groce et al., "Swarm Testing").
import type { Mutant, NodeId } from '../raft/types.ts';
import { MUTANTS } from '../raft/types.ts';
import { HOST_MUTANTS } from '../host/types.ts';
import type { HostMutant } from '../host/types.ts';
import { WATCH_MUTANTS } from '../kv/watch-hub.ts';
import type { WatchMutant } from '../kv/watch-hub.ts';

/** A deliberately broken core (src/raft), host (src/host) or watch hub (src/kv) for the mutant suites. */
export type SimMutant = Mutant | HostMutant | WatchMutant;
export const SIM_MUTANTS: readonly SimMutant[] = [...MUTANTS, ...HOST_MUTANTS, ...WATCH_MUTANTS];
import type { LinkLatency, NetworkFaults } from './network.ts';
import { Prng } from './prng.ts';

/** The core's timing parameters that the fault ranges are scaled by. */
export interface SimTiming {
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  readonly leaseDurationMs: number;
  readonly maxClockDriftRate: number;
}

export interface FaultMix {
  readonly partitions: boolean;
  readonly asymmetric: boolean;
  readonly crashes: boolean;
  readonly pauses: boolean;
  readonly transfers: boolean;
  readonly slowLinks: boolean;
  /** Compound faults aimed at lease races (see FaultInjector.attack). */
  readonly attacks: boolean;
  /** Mean gap between fault injections, ms of true time. */
  readonly meanGapMs: number;
}

export interface Scenario {
  readonly seed: number;
  readonly nodes: readonly NodeId[];
  readonly mutant: SimMutant | null;
  readonly timing: SimTiming;
  /** Per node: local ms per true ms, within ±maxClockDriftRate. */
  readonly clockRates: readonly number[];
  readonly clockOffsetsMs: readonly number[];
  readonly latency: (from: NodeId, to: NodeId) => LinkLatency;
  readonly regions: readonly number[];
  readonly net: NetworkFaults;
  readonly faults: FaultMix;
  readonly faultPhaseMs: number;
  /** After faults stop: a leader and every client's next request must complete within this. */
  readonly livenessBoundMs: number;
  readonly fsyncMinUs: number;
  readonly fsyncMaxUs: number;
  readonly clients: number;
  /** Share of operations that are writes (read-heavy seeds leave quiet spells in the log). */
  readonly writeRatio: number;
  readonly keys: number;
  readonly clientTimeoutMs: number;
  readonly thinkMaxMs: number;
  /** Nodes persist through the real WAL over FaultyFs (torn tails on crash) instead of MemStorage. */
  readonly walStorage: boolean;
  /** WAL seeds only: the nodes (a minority, maybe none) whose files may get bit flips while down. */
  readonly corruptible: readonly NodeId[];
  /** Membership changes join the fault menu (membership.ts), one plan every ~memberGapMs. */
  readonly membership: boolean;
  readonly memberGapMs: number;
}

/** Mutants that only the membership plans (changes, replace, slow transfers) expose: their seeds always have them. */
const MEMBERSHIP_MUTANTS: readonly (SimMutant | null)[] = [
  'lease-one-config',
  'change-before-term-commit',
  'new-voter-counts-before-ack',
  'removed-leader-keeps-lease',
  'rejoin-with-empty-disk',
  'transfer-resumes-lease',
];

export function nodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

/** Draws the seed's scenario. Uses its own Prng stream, so the run's draws do not shift it. */
export function makeScenario(seed: number, nodeCount: number, mutant: SimMutant | null): Scenario {
  const rng = new Prng(seed ^ 0x5ce7a110);
  const timing = drawTiming(rng);
  const nodes = nodeIds(nodeCount);
  const d = timing.maxClockDriftRate;
  // Often put every clock at the edge of the bound (the worst case the drift margin must cover).
  const atBound = rng.chance(0.5);
  const clockRates = nodes.map(() => (atBound ? (rng.chance(0.5) ? 1 + d : 1 - d) : rng.range(1 - d, 1 + d)));
  const clockOffsetsMs = nodes.map(() => rng.range(0, 1e6));
  const regionCount = rng.int(1, 3);
  const regions = nodes.map(() => rng.int(0, regionCount - 1));
  const intra: LinkLatency = { minUs: 100, maxUs: rng.int(300, 3000) };
  const hb = timing.heartbeatIntervalMs;
  const interMaxUs = Math.round(rng.range(0.1, 0.6) * hb * 1000);
  const inter: LinkLatency = { minUs: Math.round(interMaxUs / 3), maxUs: interMaxUs };
  const latency = (from: NodeId, to: NodeId): LinkLatency =>
    regions[nodes.indexOf(from)] === regions[nodes.indexOf(to)] ? intra : inter;
  const net: NetworkFaults = {
    dropRate: rng.chance(0.6) ? rng.range(0, 0.15) : 0,
    duplicateRate: rng.chance(0.4) ? rng.range(0, 0.08) : 0,
    reorder: rng.chance(0.5),
  };
  const faults: FaultMix = {
    partitions: rng.chance(0.7),
    asymmetric: rng.chance(0.5),
    crashes: rng.chance(0.5),
    pauses: rng.chance(0.5),
    transfers: rng.chance(0.5),
    slowLinks: rng.chance(0.5),
    attacks: rng.chance(0.5),
    meanGapMs: rng.range(0.5, 2) * timing.electionTimeoutMaxMs,
  };
  const lease = timing.leaseDurationMs;
  const base = {
    seed,
    nodes,
    mutant,
    timing,
    clockRates,
    clockOffsetsMs,
    latency,
    regions,
    net,
    faults,
    faultPhaseMs: Math.round(rng.range(3, 6) * timing.electionTimeoutMaxMs),
    livenessBoundMs: Math.round(12 * timing.electionTimeoutMaxMs + 4 * lease),
    fsyncMinUs: 50,
    fsyncMaxUs: rng.int(200, Math.max(300, Math.round(hb * 200))),
    clients: rng.int(2, 5),
    writeRatio: rng.pick([0.5, 0.5, 0.2, 0.05]),
    keys: rng.int(1, 2),
    clientTimeoutMs: Math.round(rng.range(0.3, 2.5) * timing.electionTimeoutMaxMs),
    thinkMaxMs: rng.range(0.2, 1) * hb,
  };
  // Drawn after everything else, so that the seeds on MemStorage keep the scenario they always had.
  const walStorage = rng.chance(1 / 3);
  const corruptible: NodeId[] = [];
  if (walStorage && rng.chance(0.5)) {
    // A minority: the others stay a quorum even if every corrupted node refuses to start for good.
    const count = rng.int(1, Math.floor((nodes.length - 1) / 2));
    const pool = nodes.slice();
    while (corruptible.length < count) corruptible.push(pool.splice(rng.int(0, pool.length - 1), 1)[0]!);
  }
  // Bit flips land while a node is down, so seeds with corruptible nodes always crash nodes.
  const faults2: FaultMix = corruptible.length > 0 ? { ...faults, crashes: true } : faults;
  // Drawn last, for the same reason. Membership plans replace members whose disk is gone, so they
  // stay off on seeds with corruptible nodes (those stay down for good and are a minority already).
  const membership = corruptible.length === 0 && (rng.chance(0.5) || MEMBERSHIP_MUTANTS.includes(mutant));
  const memberGapMs = rng.range(0.2, 1) * timing.electionTimeoutMaxMs;
  return { ...base, faults: faults2, walStorage, corruptible, membership, memberGapMs };
}

/**
 * Timing within the core's validated envelope, often right at its edge: the lease as long as the
 * inequality leaseDurationMs·(1+ρ)/(1−ρ) < electionTimeoutMinMs allows, with ρ up to the maximum.
 */
function drawTiming(rng: Prng): SimTiming {
  const electionTimeoutMinMs = 1000;
  const maxClockDriftRate = rng.pick([0.001, 0.01, 0.01, 0.05, 0.1]);
  const maxLease = Math.ceil((electionTimeoutMinMs * (1 - maxClockDriftRate)) / (1 + maxClockDriftRate)) - 1;
  const leaseDurationMs = rng.chance(0.5) ? maxLease : maxLease - rng.int(1, 150);
  return {
    heartbeatIntervalMs: 100,
    electionTimeoutMinMs,
    electionTimeoutMaxMs: 2000,
    leaseDurationMs,
    maxClockDriftRate,
  };
}

export function describeScenario(s: Scenario): string {
  const f = s.faults;
  const on = (Object.keys(f) as (keyof FaultMix)[]).filter((k) => k !== 'meanGapMs' && f[k]).join(',');
  return (
    `nodes=${s.nodes.length} rho=${s.timing.maxClockDriftRate} lease=${s.timing.leaseDurationMs}ms regions=${s.regions.join('')} drift=[${s.clockRates.map((r) => r.toFixed(4)).join(' ')}] ` +
    `drop=${s.net.dropRate.toFixed(3)} dup=${s.net.duplicateRate.toFixed(3)} reorder=${s.net.reorder} ` +
    `faults=${on || 'none'} gap=${f.meanGapMs.toFixed(0)}ms phase=${s.faultPhaseMs}ms clients=${s.clients} keys=${s.keys}` +
    (s.walStorage ? ` storage=wal corruptible=${s.corruptible.join(',') || 'none'}` : '') +
    (s.membership ? ` membership gap=${s.memberGapMs.toFixed(0)}ms` : '')
  );
}
