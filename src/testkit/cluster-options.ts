// What the process-cluster launcher (cluster.ts) is told besides its options: how a member starts,
// extra `serve` settings, and the test timings.
import type { SettingValue } from '../server/serve-args.ts';
/** Test timings: must pass the core's config check (lease·(1+ρ)/(1−ρ) < election, heartbeat ≤ lease/3). */
export const FAST_TIMING: Timing = { heartbeatMs: 50, electionTimeoutMs: 500, leaseMs: 450, requestTimeoutMs: 2000 };

export interface Timing {
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly leaseMs: number;
  readonly requestTimeoutMs: number;
}

export type Settings = Readonly<Record<string, SettingValue | undefined>>;

/** Timings as `serve` settings (for serveArgs). */
export function timingSettings(t: Partial<Timing> = FAST_TIMING): Settings {
  return {
    'heartbeat-ms': t.heartbeatMs,
    'election-timeout-ms': t.electionTimeoutMs,
    'lease-ms': t.leaseMs,
    'request-timeout-ms': t.requestTimeoutMs,
  };
}

/**
 * How startNode starts a member. Default: the members are taken from the data dir (no --peers);
 * start() bootstraps the first members with `peers`.
 */
export interface StartHow {
  /** --peers/--client-addrs listing these members (a bootstrap, or a restart that must agree). */
  readonly peers?: readonly string[];
  /** --peer-routes text (a supervisor that routes the peer links through its own proxies). */
  readonly peerRoutes?: string;
  /** --join with these members' client endpoints (a member just added). */
  readonly join?: readonly string[];
  /** The test expects this start to end by itself (a refusal): its exit is not a crash. */
  readonly expectExit?: boolean;
}
