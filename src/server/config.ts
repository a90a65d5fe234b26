// A node's configuration: from flags, LEASEKV_* environment variables and an optional JSON file
// (flags win over environment, environment over file, file over defaults; read in config-flags.ts).
// Validated once, here; everything downstream trusts it.

import { DEFAULT_WATCH_LIMITS, type WatchLimits } from './watch/hub.ts';
import { DEFAULT_AUTO_COMPACTION, type AutoCompaction } from './auto-compact.ts';
import { ApiLimitsError, DEFAULT_LIMITS, resolveLimits, type ApiLimits } from './api/limits.ts';
import { DEFAULT_DRIFT_RATE, MAX_DRIFT_RATE, MAX_MEMBERS } from '../raft/config.ts';
import { intSetting, NodeConfigError, type RawConfig } from './config-flags.ts';
import { onOffSetting } from './config-switch.ts';
import { tlsSettings, type TlsConfig } from './tls-config.ts';
import { allowedHostsSetting, refuseSharedAddresses, refuseSharedPort, refuseUndialable } from './config-addrs.ts';
import { checkTimings, longestLeaseMs } from './config-timing.ts';
import { ttlLimits, type TtlLimits } from './ttl-room.ts';

export { flagHelp, NodeConfigError } from './config-flags.ts';
export { rawFromArgs } from './config-args.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: string;
  readonly dataDir: string;
  readonly listenPeer: HostPort;
  readonly listenClient: HostPort;
  /**
   * For every member (self included): the peer address the OTHERS dial. From --peers (empty when not
   * given) until startNode replaces it by the configuration recorded in the data dir.
   */
  readonly peers: ReadonlyMap<string, HostPort>;
  /** Client addresses of members, for leader hints (optional per member); like `peers`. */
  readonly clientAddrs: ReadonlyMap<string, HostPort>;
  /**
   * --peer-routes: where this node dials some members instead of their peer address (a proxy or a
   * tunnel between them). Only this node's; never recorded nor reported (MemberList shows `peers`).
   */
  readonly peerRoutes: ReadonlyMap<string, HostPort>;
  /** Whether --peers was given (it bootstraps a brand-new cluster; with data it must agree). */
  readonly peersGiven: boolean;
  /** Members of `peers` that are learners (set by startNode for a member that joins; else none). */
  readonly learners?: readonly string[];
  /** --join: client endpoints of current members, for a member just added (empty: not joining). */
  readonly join: readonly HostPort[];
  readonly clusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  readonly leaseDurationMs: number;
  readonly maxClockDriftRate: number;
  readonly snapshotThresholdEntries: number;
  /** A snapshot is also taken once the entries applied since the last one hold this many bytes (issue 16). */
  readonly snapshotThresholdBytes: number;
  /**
   * Bytes of applied, persisted log entries the core keeps in memory past the snapshot (issue 16);
   * a follower that needs older ones is served from the WAL. RaftConfig.logWindowBytes.
   */
  readonly logWindowBytes: number;
  readonly appendHoldMs: number; // RaftConfig.appendHoldMs (session 13); 0: off
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxPendingRequests: number;
  readonly requestTimeoutMs: number;
  /** serve: how long a graceful stop may take before the process exits anyway (cli/commands/serve-stop.ts). */
  readonly stopTimeoutMs: number;
  /** Every limit of the client API (src/server/api/limits.ts), the ones above included, validated. */
  readonly clientLimits: ApiLimits;
  /** Inbound peer connections at once, or null: 2 per member + 4 as members change (docs/chaos.md). */
  readonly maxPeerConnections: number | null;
  /** What one TTL grant may hold (ttl-room.ts): its end deletes all of it in one revision. */
  readonly ttl: TtlLimits;
  /** Watch (issue 14): history kept, bounds per watcher, progress notifications. */
  readonly watch: WatchLimits;
  /** Automatic compaction of the revision history by the leader (auto-compact.ts); 0 and 0: off. */
  readonly autoCompaction: AutoCompaction;
  /** Users, roles and tokens (issue 15; docs/security.md). */
  readonly auth: AuthConfig;
  /** Serve linearizable reads from the lease (default). Off: every one takes a ReadIndex round. */
  readonly leaseReads: boolean;
  /** Serve the client API on its own thread (--api-thread on); off (default for now): on the node's thread (docs/design.md, "Threads"). */
  readonly apiThread: boolean;
  /** --http1-framing (default on): plain JSON Gets and Puts of plaintext HTTP/1.1 answered without node:http (api/framing.ts); off: an escape hatch. */
  readonly http1Framing: boolean;
  readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /**
   * --allowed-hosts: DNS names a plaintext client port answers to besides the members' addresses,
   * this machine's name, IP addresses and localhost (api/host-check.ts); `*`: any.
   */
  readonly allowedHosts: readonly string[];
  /** TLS files of the client port and peer links; plaintext only with --insecure (tls-config.ts). */
  readonly tls: TlsConfig;
}

export interface AuthConfig {
  /** --auth: every request must be authenticated (auth also turns on cluster-wide once enabled). */
  readonly required: boolean;
  /** --root-password-file (absent: this member never sets up the root user). */
  readonly rootPasswordFile?: string;
  readonly tokenTtlMs: number;
  /** Authenticate attempts admitted per second on this node, and from one source address (auth/attempts.ts). */
  readonly authAttemptsPerSec: number;
  readonly authAttemptsPerSourcePerSec: number;
}

/** Timing profiles. `far` is for members in different regions (round trips of 100–300 ms). */
export const PROFILES = {
  local: { heartbeatIntervalMs: 50, electionTimeoutMinMs: 600, electionTimeoutMaxMs: 1200, leaseDurationMs: 540 },
  far: { heartbeatIntervalMs: 300, electionTimeoutMinMs: 3000, electionTimeoutMaxMs: 6000, leaseDurationMs: 2700 },
} as const;

export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) {
    // `::1:7001` is ambiguous (is 7001 part of the address?): say how to write it.
    const v6 = /^([0-9a-fA-F:.]*:[0-9a-fA-F:.]*):(\d{1,5})$/.exec(text.trim());
    const hint = v6 === null ? '' : ` (an IPv6 address goes in brackets: [${v6[1]}]:${v6[2]})`;
    throw new NodeConfigError(`${what}: '${text}' is not HOST:PORT${hint}`);
  }
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new NodeConfigError(`${what}: port ${port} is out of range`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function parseMemberList(text: string, what: string): Map<string, HostPort> {
  const out = new Map<string, HostPort>();
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new NodeConfigError(`${what}: '${part}' is not id=HOST:PORT`);
    const id = part.slice(0, eq);
    validateId(id, what);
    if (out.has(id)) throw new NodeConfigError(`${what}: member '${id}' is listed twice`);
    const hp = parseHostPort(part.slice(eq + 1), `${what} (${id})`);
    refuseUndialable(hp, `${what} (${id})`);
    out.set(id, hp);
  }
  return out;
}

function validateId(id: string, what: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
    throw new NodeConfigError(`${what}: member id '${id}' must be 1–64 characters of A-Z a-z 0-9 _ . -`);
  }
}

const W = DEFAULT_WATCH_LIMITS;

export function buildNodeConfig(raw: Partial<RawConfig>): NodeConfig {
  const need = (k: keyof RawConfig, flag: string): string => {
    const v = raw[k];
    if (v === undefined || v === '') throw new NodeConfigError(`${flag} is required`);
    return v;
  };
  const id = need('id', '--id');
  validateId(id, '--id');
  const peersGiven = raw.peers !== undefined && raw.peers !== '';
  const peers = peersGiven ? parseMemberList(raw.peers ?? '', '--peers') : new Map<string, HostPort>();
  if (peersGiven && !peers.has(id))
    throw new NodeConfigError(`--peers must include this member '${id}' (got ${[...peers.keys()].join(', ')})`);
  if (peers.size > MAX_MEMBERS)
    throw new NodeConfigError(`--peers lists ${peers.size} members; at most ${MAX_MEMBERS} are supported`);
  const clientAddrs =
    raw.clientAddrs === undefined ? new Map<string, HostPort>() : parseMemberList(raw.clientAddrs, '--client-addrs');
  for (const m of clientAddrs.keys()) {
    if (peersGiven && !peers.has(m)) throw new NodeConfigError(`--client-addrs names '${m}', which is not in --peers`);
  }
  refuseSharedAddresses(peers, clientAddrs, { peers: '--peers', clients: '--client-addrs' });
  const peerRoutes =
    raw.peerRoutes === undefined || raw.peerRoutes === ''
      ? new Map<string, HostPort>()
      : parseMemberList(raw.peerRoutes, '--peer-routes');
  if (peerRoutes.has(id)) throw new NodeConfigError(`--peer-routes names this member '${id}' (it never dials itself)`);
  if (peerRoutes.size > MAX_MEMBERS)
    throw new NodeConfigError(`--peer-routes lists ${peerRoutes.size} members; at most ${MAX_MEMBERS} are supported`);
  const join =
    raw.join === undefined || raw.join === ''
      ? []
      : raw.join
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '')
          .map((p) => parseHostPort(p.replace(/^https?:\/\//, ''), '--join'));
  for (const hp of join) refuseUndialable(hp, '--join');
  if (join.length > 0 && peersGiven)
    throw new NodeConfigError(
      '--join and --peers exclude each other: --peers bootstraps a new cluster, --join starts a member added to a running one',
    );
  const profileName = raw.profile ?? 'local';
  if (profileName !== 'local' && profileName !== 'far')
    throw new NodeConfigError(`--profile must be local or far, not '${profileName}'`);
  const profile = PROFILES[profileName];
  const heartbeatIntervalMs = intSetting(raw.heartbeatMs, '--heartbeat-ms', profile.heartbeatIntervalMs, 5, 60_000);
  const electionTimeoutMinMs = intSetting(
    raw.electionTimeoutMs,
    '--election-timeout-ms',
    profile.electionTimeoutMinMs,
    20,
    600_000,
  );
  const maxClockDriftRate = raw.maxDriftRate === undefined ? DEFAULT_DRIFT_RATE : Number(raw.maxDriftRate);
  if (!Number.isFinite(maxClockDriftRate) || maxClockDriftRate < 0 || maxClockDriftRate > MAX_DRIFT_RATE) {
    throw new NodeConfigError(
      `--max-drift-rate: '${raw.maxDriftRate ?? ''}' must be a number in [0, ${MAX_DRIFT_RATE}] (0.01 = 1%)`,
    );
  }
  // Not given: the profile's (or 0.9 × a given election timeout), shortened to fit a larger drift bound.
  const leaseDefault = Math.min(
    raw.electionTimeoutMs === undefined ? profile.leaseDurationMs : Math.floor(electionTimeoutMinMs * 0.9),
    longestLeaseMs(electionTimeoutMinMs, maxClockDriftRate),
  );
  const leaseDurationMs = intSetting(raw.leaseMs, '--lease-ms', leaseDefault, 10, 600_000);
  checkTimings({ heartbeatIntervalMs, electionTimeoutMinMs, leaseDurationMs, maxClockDriftRate });
  const logLevel = raw.logLevel ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new NodeConfigError(`--log-level must be one of trace, debug, info, warn, error, silent`);
  }
  const maxKeyBytes = intSetting(raw.maxKeyBytes, '--max-key-bytes', 4096, 1, 65_536);
  const maxValueBytes = intSetting(raw.maxValueBytes, '--max-value-bytes', 1 << 20, 0, 64 << 20);
  const maxPendingRequests = intSetting(raw.maxPendingRequests, '--max-pending-requests', 1024, 1, 1_000_000);
  const requestTimeoutMs = intSetting(raw.requestTimeoutMs, '--request-timeout-ms', 5000, 10, 600_000);
  const clientLimits = buildClientLimits(raw, {
    maxKeyBytes,
    maxValueBytes,
    maxInFlight: maxPendingRequests,
    requestDeadlineMs: requestTimeoutMs,
  });
  const listenPeer = parseHostPort(need('listenPeer', '--listen-peer'), '--listen-peer');
  const listenClient = parseHostPort(need('listenClient', '--listen-client'), '--listen-client');
  refuseSharedPort(listenPeer, listenClient);
  return {
    id,
    dataDir: need('dataDir', '--data-dir'),
    listenPeer,
    listenClient,
    peers,
    clientAddrs,
    peerRoutes,
    peersGiven,
    join,
    clusterToken: clusterTokenSetting(raw.clusterToken),
    heartbeatIntervalMs,
    electionTimeoutMinMs,
    electionTimeoutMaxMs: electionTimeoutMinMs * 2,
    leaseDurationMs,
    maxClockDriftRate,
    snapshotThresholdEntries: intSetting(raw.snapshotThreshold, '--snapshot-threshold', 10_000, 10, 10_000_000),
    snapshotThresholdBytes: intSetting(
      raw.snapshotThresholdBytes,
      '--snapshot-threshold-bytes',
      32 * 1024 * 1024,
      1024 * 1024,
      4 * 1024 * 1024 * 1024,
    ),
    logWindowBytes: intSetting(raw.logWindowBytes, '--log-window-bytes', 4 << 20, 64 << 10, 1 << 30),
    appendHoldMs: intSetting(raw.appendHoldMs, '--append-hold-ms', 0, 0, heartbeatIntervalMs),
    maxKeyBytes,
    maxValueBytes,
    maxPendingRequests,
    requestTimeoutMs,
    stopTimeoutMs: intSetting(raw.stopTimeoutMs, '--stop-timeout-ms', 15_000, 100, 600_000),
    clientLimits,
    maxPeerConnections:
      raw.maxPeerConnections === undefined || raw.maxPeerConnections === ''
        ? null
        : intSetting(raw.maxPeerConnections, '--max-peer-connections', 0, peers.size, 10_000),
    ttl: ttlLimits(raw, clientLimits),
    watch: {
      ...W,
      maxHistoryRevisions: intSetting(
        raw.watchHistory,
        '--watch-history',
        DEFAULT_WATCH_LIMITS.maxHistoryRevisions,
        1,
        100_000_000,
      ),
      maxHistoryBytes: intSetting(
        raw.watchHistoryBytes,
        '--watch-history-bytes',
        DEFAULT_WATCH_LIMITS.maxHistoryBytes,
        1024 * 1024,
        16 * 1024 * 1024 * 1024,
      ),
      progressIntervalMs: intSetting(raw.watchProgressMs, '--watch-progress-ms', W.progressIntervalMs, 10, 3_600_000),
      maxWatchers: clientLimits.maxConnections,
    },
    autoCompaction: {
      maxAgeMs: intSetting(
        raw.autoCompactionAgeMs,
        '--auto-compaction-age-ms',
        DEFAULT_AUTO_COMPACTION.maxAgeMs,
        0,
        365 * 86_400_000,
      ),
      maxRevisions: intSetting(
        raw.autoCompactionRevisions,
        '--auto-compaction-revisions',
        DEFAULT_AUTO_COMPACTION.maxRevisions,
        0,
        1_000_000_000,
      ),
    },
    leaseReads: onOffSetting(raw.leaseReads, '--lease-reads'),
    auth: authSetting(raw),
    apiThread: onOffSetting(raw.apiThread, '--api-thread'),
    http1Framing: onOffSetting(raw.http1Framing, '--http1-framing'),
    logLevel: logLevel as NodeConfig['logLevel'],
    tls: tlsSettings(raw),
    allowedHosts: allowedHostsSetting(raw.allowedHosts),
  };
}

/** The client API's limits from the flags (unset ones default in limits.ts), checked together. */
function buildClientLimits(
  raw: Partial<RawConfig>,
  base: Pick<ApiLimits, 'maxKeyBytes' | 'maxValueBytes' | 'maxInFlight' | 'requestDeadlineMs'>,
): ApiLimits {
  const opt = (v: string | undefined, flag: string, min: number, max: number): number | undefined =>
    v === undefined || v === '' ? undefined : intSetting(v, flag, 0, min, max);
  const given: Partial<Record<keyof ApiLimits, number | undefined>> = {
    maxJsonDepth: opt(raw.maxJsonDepth, '--max-json-depth', 2, 1000),
    maxResponseBytes: opt(raw.maxResponseBytes, '--max-response-bytes', 1, 2 ** 31 - 1),
    maxPendingResponseBytes: opt(raw.maxPendingResponseBytes, '--max-pending-response-bytes', 1, 2 ** 40),
    maxInFlightPerConnection: opt(raw.maxPendingPerConnection, '--max-pending-per-connection', 1, 1_000_000),
    maxInFlightPerSource: opt(raw.maxPendingPerSource, '--max-pending-per-source', 1, 1_000_000),
    requestsPerSourcePerTurn: opt(raw.maxRequestsPerSourcePerTurn, '--max-requests-per-source-per-turn', 1, 1_000_000),
    headersTimeoutMs: opt(raw.headersTimeoutMs, '--headers-timeout-ms', 10, 3_600_000),
    requestReceiveTimeoutMs: opt(raw.requestReceiveTimeoutMs, '--request-receive-timeout-ms', 10, 3_600_000),
    maxConnections: opt(raw.maxConnections, '--max-connections', 1, 1_000_000),
    maxConnectionsPerSource: opt(raw.maxConnectionsPerSource, '--max-connections-per-source', 1, 1_000_000),
    maxNewConnectionsPerSec: opt(raw.maxNewConnectionsPerSec, '--max-new-connections-per-sec', 1, 1_000_000),
    maxNewConnectionsPerSourcePerSec: opt(
      raw.maxNewConnectionsPerSourcePerSec,
      '--max-new-connections-per-source-per-sec',
      1,
      1_000_000,
    ),
    maxStreamResetsPerSec: opt(raw.maxStreamResetsPerSec, '--max-stream-resets-per-sec', 1, 1_000_000),
    maxConcurrentStreams: opt(raw.maxConcurrentStreams, '--max-concurrent-streams', 1, 1_000_000),
    maxUnsentBytesPerSource: opt(raw.maxUnsentBytesPerSource, '--max-unsent-bytes-per-source', 1, 2 ** 40),
    maxUnsentBytes: opt(raw.maxUnsentBytes, '--max-unsent-bytes', 1, 2 ** 40),
  };
  const partial: Record<string, number> = { ...base };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) partial[k] = v;
  // Only the total given: the per-source default is capped by it.
  if (given.maxConnections !== undefined && given.maxConnectionsPerSource === undefined)
    partial['maxConnectionsPerSource'] = Math.min(given.maxConnections, DEFAULT_LIMITS.maxConnectionsPerSource);
  try {
    return resolveLimits(partial as Partial<ApiLimits>);
  } catch (e) {
    if (e instanceof ApiLimitsError) throw new NodeConfigError(e.message);
    throw e;
  }
}

function authSetting(raw: Partial<RawConfig>): AuthConfig {
  const on = raw.auth ?? 'false';
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(on))
    throw new NodeConfigError(`--auth must be true or false, not '${on}'`);
  const required = on === 'on' || on === 'true' || on === '1';
  const file = raw.rootPasswordFile === undefined || raw.rootPasswordFile === '' ? undefined : raw.rootPasswordFile;
  if (file !== undefined && !required) throw new NodeConfigError('--root-password-file needs --auth');
  return {
    required,
    ...(file === undefined ? {} : { rootPasswordFile: file }),
    tokenTtlMs: intSetting(raw.authTokenTtlMs, '--auth-token-ttl-ms', 600_000, 100, 7 * 24 * 3600_000),
    // Each attempt is a scrypt hash (~50 ms of a thread-pool thread): 20 a second is about one core.
    authAttemptsPerSec: intSetting(raw.authAttemptsPerSec, '--auth-attempts-per-sec', 20, 1, 10_000),
    authAttemptsPerSourcePerSec: intSetting(
      raw.authAttemptsPerSourcePerSec,
      '--auth-attempts-per-source-per-sec',
      5,
      1,
      10_000,
    ),
  };
}

export const DEFAULT_CLUSTER_TOKEN = 'leasekv'; // --cluster-token when none is given

/** The cluster token goes in every peer hello, whose size is bounded before the handshake (transport/codec.ts). */
function clusterTokenSetting(raw: string | undefined): string {
  const token = raw ?? DEFAULT_CLUSTER_TOKEN;
  if (token.length === 0 || Buffer.byteLength(token) > 256)
    throw new NodeConfigError(`--cluster-token must be 1 to 256 bytes, got ${Buffer.byteLength(token)}`);
  return token;
}
