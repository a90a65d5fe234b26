// The consensus core's configuration: every limit and timing, validated once with cross-field rules
// (TIGER_STYLE: limits on everything, checked where the config is built, never re-checked later).
// See docs/lease-safety.md for why the lease inequality below is what it is.
import { MUTANTS } from './types.ts';
import type { Mutant, NodeId } from './types.ts';

/** An operating error: the config the host built cannot run safely. The message says what to fix. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface RaftConfig {
  readonly id: NodeId;
  /**
   * The bootstrap configuration's voters (and `learners`): used only while the log and snapshot
   * hold no configuration (a brand-new cluster, or a joining node that was told the current one).
   * From then on the configuration comes from the log (ConfChange entries) and snapshots.
   */
  readonly members: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** How often the leader starts a heartbeat round (which renews the lease). */
  readonly heartbeatIntervalMs: number;
  /** Election timeouts are drawn uniformly from [min, max) on each reset. */
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  /** The lease a leader claims in every AppendRequest, measured from the heartbeat round's send time. */
  readonly leaseDurationMs: number;
  /** ρ: any two clocks' rates differ from true time by at most this factor (0.01 = 1%). */
  readonly maxClockDriftRate: number;
  /** Flow limits for one AppendRequest (at least one entry is always sent, whatever its size). */
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  /** AppendRequests in flight to one follower in the replicate state (pipelining depth). */
  readonly maxInflightAppends: number;
  /**
   * Coalescing of appends (session 13): while an AppendRequest to a follower is in flight, entries
   * proposed since are held back up to this long (0: never), so that one larger AppendRequest — one
   * follower wake-up, Ready, WAL round trip and acknowledgement — carries them; they go at once when
   * nothing is in flight to it, once appendHoldEntries are waiting, or when the follower answers and
   * nothing is left in flight. replication.ts, holdAppends.
   */
  readonly appendHoldMs: number;
  /** Entries waiting for a follower that end a hold at once. */
  readonly appendHoldEntries: number;
  /** ReadIndex requests waiting at the leader; more fail with reason 'overloaded'. */
  readonly maxPendingReads: number;
  /**
   * Bytes of applied, persisted entries kept in memory past the snapshot (issue 16: the log lives on
   * disk; older entries a follower needs are read back from the host's WAL). Counted as data plus
   * ENTRY_OVERHEAD_BYTES per entry; committed-but-unapplied and unpersisted entries are always kept.
   */
  readonly logWindowBytes: number;
  /** Test-only deliberately broken variant (simulator mutant suite). The server never sets it. */
  readonly mutant?: Mutant;
}

export type RaftConfigInput = Partial<RaftConfig> & { readonly id: NodeId; readonly members: readonly NodeId[] };

/** ρ unless configured: 1%. */
export const DEFAULT_DRIFT_RATE = 0.01;

const DEFAULTS = {
  learners: [] as readonly NodeId[],
  heartbeatIntervalMs: 100,
  electionTimeoutMinMs: 1000,
  electionTimeoutMaxMs: 2000,
  // 900 · 1.01 / 0.99 = 918 < 1000: the largest round number the inequality below allows at ρ = 1%.
  leaseDurationMs: 900,
  maxClockDriftRate: DEFAULT_DRIFT_RATE,
  maxEntriesPerAppend: 256,
  maxBytesPerAppend: 1 << 20,
  maxInflightAppends: 16,
  appendHoldMs: 0,
  appendHoldEntries: 64,
  maxPendingReads: 4096,
  logWindowBytes: 4 << 20,
} as const;

/** Upper bounds that catch unit mistakes (seconds passed as ms, a percentage passed as a rate). */
const MAX_TIMEOUT_MS = 10 * 60 * 1000;
/**
 * The largest clock-drift bound ρ accepted (10%). Declared here once: the server validates its flag
 * against it.
 */
export const MAX_DRIFT_RATE = 0.1;
/**
 * The most members (voters and learners together) a configuration may hold, at bootstrap and after
 * any change (docs/design.md, "Limits"). Declared here once: the server and the simulator use it.
 */
export const MAX_MEMBERS = 7;

export function defaultRaftConfig(id: NodeId, members: readonly NodeId[]): RaftConfig {
  return validateRaftConfig({ id, members });
}

function positiveInt(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new ConfigError(`${name} must be an integer in [1, ${max}], got ${String(v)}`);
  }
}

/** Fills defaults, then checks every field and every cross-field rule. Throws ConfigError. */
export function validateRaftConfig(partial: RaftConfigInput): RaftConfig {
  const c: RaftConfig = { ...DEFAULTS, ...stripUndefined(partial) };
  if (typeof c.id !== 'string' || c.id.length === 0) throw new ConfigError('id must be a non-empty string');
  if (!Array.isArray(c.members) || c.members.length === 0 || c.members.length > MAX_MEMBERS) {
    throw new ConfigError(`members must list 1..${MAX_MEMBERS} node ids`);
  }
  if (new Set(c.members).size !== c.members.length)
    throw new ConfigError(`members must be unique: ${c.members.join(',')}`);
  if (c.members.some((m) => typeof m !== 'string' || m.length === 0))
    throw new ConfigError('member ids must be non-empty strings');
  if (
    !Array.isArray(c.learners) ||
    c.learners.some((m) => typeof m !== 'string' || m.length === 0 || c.members.includes(m))
  ) {
    throw new ConfigError(`learners must be non-empty ids that are not also in members: ${String(c.learners)}`);
  }
  if (c.members.length + c.learners.length > MAX_MEMBERS)
    throw new ConfigError(`at most ${MAX_MEMBERS} members and learners`);
  if (!c.members.includes(c.id) && !c.learners.includes(c.id)) {
    throw new ConfigError(`id ${c.id} is not in members ${c.members.join(',')} (nor in learners)`);
  }
  positiveInt('heartbeatIntervalMs', c.heartbeatIntervalMs, MAX_TIMEOUT_MS);
  positiveInt('electionTimeoutMinMs', c.electionTimeoutMinMs, MAX_TIMEOUT_MS);
  positiveInt('electionTimeoutMaxMs', c.electionTimeoutMaxMs, MAX_TIMEOUT_MS);
  positiveInt('leaseDurationMs', c.leaseDurationMs, MAX_TIMEOUT_MS);
  positiveInt('maxEntriesPerAppend', c.maxEntriesPerAppend, 1 << 16);
  positiveInt('maxBytesPerAppend', c.maxBytesPerAppend, 1 << 30);
  positiveInt('maxInflightAppends', c.maxInflightAppends, 1024);
  if (typeof c.appendHoldMs !== 'number' || !(c.appendHoldMs >= 0 && c.appendHoldMs <= c.heartbeatIntervalMs))
    throw new ConfigError(`appendHoldMs must be in [0, heartbeatIntervalMs], got ${String(c.appendHoldMs)}`);
  positiveInt('appendHoldEntries', c.appendHoldEntries, 1 << 16);
  positiveInt('maxPendingReads', c.maxPendingReads, 1 << 20);
  positiveInt('logWindowBytes', c.logWindowBytes, 1 << 30);
  const rho = c.maxClockDriftRate;
  if (typeof rho !== 'number' || !(rho >= 0 && rho <= MAX_DRIFT_RATE)) {
    throw new ConfigError(`maxClockDriftRate must be a rate in [0, ${MAX_DRIFT_RATE}] (0.01 = 1%), got ${String(rho)}`);
  }
  if (c.electionTimeoutMaxMs <= c.electionTimeoutMinMs) {
    throw new ConfigError(
      `electionTimeoutMaxMs (${c.electionTimeoutMaxMs}) must exceed electionTimeoutMinMs (${c.electionTimeoutMinMs}) so timeouts are randomized`,
    );
  }
  // A lease must survive a few lost heartbeats: renewal happens once per heartbeat round.
  const leaderLeaseMs = c.leaseDurationMs * (1 - rho);
  if (c.heartbeatIntervalMs * 3 > leaderLeaseMs) {
    throw new ConfigError(
      `heartbeatIntervalMs (${c.heartbeatIntervalMs}) must be at most a third of the leader's lease leaseDurationMs·(1−ρ) = ${leaderLeaseMs.toFixed(1)} ms`,
    );
  }
  // The longest any node can believe in a lease, converted to any other clock, is shorter than the
  // shortest election timeout (docs/lease-safety.md, "The inequality").
  const longest = (c.leaseDurationMs * (1 + rho)) / (1 - rho);
  if (!(longest < c.electionTimeoutMinMs)) {
    throw new ConfigError(
      `leaseDurationMs·(1+ρ)/(1−ρ) = ${longest.toFixed(1)} ms must be below electionTimeoutMinMs (${c.electionTimeoutMinMs})`,
    );
  }
  if (c.mutant !== undefined && !MUTANTS.includes(c.mutant))
    throw new ConfigError(`unknown mutant ${String(c.mutant)}`);
  return c;
}

function stripUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}
