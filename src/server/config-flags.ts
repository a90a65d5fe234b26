// Raw settings of a node: the flags of `leasekv serve`, their LEASEKV_* environment variables and
// the optional JSON file, read into strings (flags win over environment, environment over file) by
// config-args.ts. config.ts validates them into a NodeConfig.

import { DEFAULT_DRIFT_RATE, MAX_DRIFT_RATE } from '../raft/config.ts';

export class NodeConfigError extends Error {
  override readonly name = 'NodeConfigError';
}

interface FlagSpec {
  readonly key: keyof RawConfig;
  readonly env: string;
  readonly help: string;
  /** A switch: `--flag` alone means true (also `--flag=true|false`, and its variable set to true/false/1/0). */
  readonly boolean?: true;
}

export type RawConfig = Record<
  | 'id'
  | 'dataDir'
  | 'listenPeer'
  | 'listenClient'
  | 'peers'
  | 'clientAddrs'
  | 'peerRoutes'
  | 'join'
  | 'clusterToken'
  | 'profile'
  | 'heartbeatMs'
  | 'electionTimeoutMs'
  | 'leaseMs'
  | 'maxDriftRate'
  | 'snapshotThreshold'
  | 'snapshotThresholdBytes'
  | 'logWindowBytes'
  | 'appendHoldMs'
  | 'watchHistoryBytes'
  | 'maxKeyBytes'
  | 'maxValueBytes'
  | 'maxPendingRequests'
  | 'requestTimeoutMs'
  | 'stopTimeoutMs'
  | 'leaseReads'
  | 'apiThread'
  | 'http1Framing'
  | 'logLevel'
  | 'config'
  | 'maxJsonDepth'
  | 'maxResponseBytes'
  | 'maxPendingResponseBytes'
  | 'maxPendingPerConnection'
  | 'maxPendingPerSource'
  | 'maxRequestsPerSourcePerTurn'
  | 'headersTimeoutMs'
  | 'requestReceiveTimeoutMs'
  | 'maxConnections'
  | 'maxConnectionsPerSource'
  | 'maxNewConnectionsPerSec'
  | 'maxNewConnectionsPerSourcePerSec'
  | 'maxStreamResetsPerSec'
  | 'maxConcurrentStreams'
  | 'maxUnsentBytesPerSource'
  | 'maxUnsentBytes'
  | 'maxTtlKeys'
  | 'allowedHosts'
  | 'maxTtlBytes'
  | 'maxPeerConnections'
  | 'watchHistory'
  | 'watchProgressMs'
  | 'autoCompactionAgeMs'
  | 'autoCompactionRevisions'
  | 'tlsCert'
  | 'tlsKey'
  | 'tlsCa'
  | 'peerTlsCert'
  | 'peerTlsKey'
  | 'peerTlsCa'
  | 'insecure'
  | 'auth'
  | 'rootPasswordFile'
  | 'authTokenTtlMs'
  | 'authAttemptsPerSec'
  | 'authAttemptsPerSourcePerSec',
  string | undefined
>;

export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  '--id': { key: 'id', env: 'LEASEKV_ID', help: "this member's id" },
  '--data-dir': { key: 'dataDir', env: 'LEASEKV_DATA_DIR', help: 'folder for the WAL and snapshots' },
  '--listen-peer': { key: 'listenPeer', env: 'LEASEKV_LISTEN_PEER', help: 'HOST:PORT to listen on for peers' },
  '--listen-client': {
    key: 'listenClient',
    env: 'LEASEKV_LISTEN_CLIENT',
    help: 'HOST:PORT to serve the client API on',
  },
  '--peers': {
    key: 'peers',
    env: 'LEASEKV_PEERS',
    help: "id=HOST:PORT,... bootstraps a brand-new cluster: every member's peer address as the others dial it (a node with data takes its members from its data; a different list is refused)",
  },
  '--client-addrs': {
    key: 'clientAddrs',
    env: 'LEASEKV_CLIENT_ADDRS',
    help: "id=HOST:PORT,... members' client addresses, for leader hints",
  },
  '--peer-routes': {
    key: 'peerRoutes',
    env: 'LEASEKV_PEER_ROUTES',
    help: "id=HOST:PORT,... dial these members here instead of at their peer address (a proxy or tunnel in between, as `leasekv up`'s fault proxies); not recorded: the members' addresses stay those of --peers",
  },
  '--join': {
    key: 'join',
    env: 'LEASEKV_JOIN',
    help: 'HOST:PORT,... client endpoints of current members: start a member just added with `leasekv member add` (empty data dir)',
  },
  '--cluster-token': {
    key: 'clusterToken',
    env: 'LEASEKV_CLUSTER_TOKEN',
    help: 'cluster id; peers with another token are refused (default leasekv)',
  },
  '--tls-cert': {
    key: 'tlsCert',
    env: 'LEASEKV_TLS_CERT',
    help: 'PEM certificate (chain) of the client port: TLS for gRPC, Connect, HTTP/JSON and the dashboard',
  },
  '--tls-key': { key: 'tlsKey', env: 'LEASEKV_TLS_KEY', help: 'PEM private key of --tls-cert' },
  '--tls-ca': {
    key: 'tlsCa',
    env: 'LEASEKV_TLS_CA',
    help: 'PEM CA that client certificates are verified against (and, with --join, the members’ certificates)',
  },
  '--peer-tls-cert': {
    key: 'peerTlsCert',
    env: 'LEASEKV_PEER_TLS_CERT',
    help: 'PEM certificate this member presents on peer links (mutual TLS), signed by the peer CA',
  },
  '--peer-tls-key': { key: 'peerTlsKey', env: 'LEASEKV_PEER_TLS_KEY', help: 'PEM private key of --peer-tls-cert' },
  '--peer-tls-ca': {
    key: 'peerTlsCa',
    env: 'LEASEKV_PEER_TLS_CA',
    help: "PEM CA of the cluster's members: peers must present a certificate it signed",
  },
  '--insecure': {
    key: 'insecure',
    env: 'LEASEKV_INSECURE',
    help: 'allow plaintext where no TLS flags are given (anyone who reaches the port reads and writes, or joins the peer links)',
    boolean: true,
  },
  '--allowed-hosts': {
    key: 'allowedHosts',
    env: 'LEASEKV_ALLOWED_HOSTS',
    help: "NAME,... plaintext (--insecure) client port: DNS names clients may use in Host/:authority besides the members' own addresses, this machine's name, IP addresses and localhost (.example.com: any name under it; *: any name) — other names are refused against DNS rebinding",
  },
  '--profile': { key: 'profile', env: 'LEASEKV_PROFILE', help: 'timing profile: local (default) or far' },
  '--heartbeat-ms': { key: 'heartbeatMs', env: 'LEASEKV_HEARTBEAT_MS', help: 'heartbeat interval' },
  '--election-timeout-ms': {
    key: 'electionTimeoutMs',
    env: 'LEASEKV_ELECTION_TIMEOUT_MS',
    help: 'minimum election timeout (max is twice this)',
  },
  '--lease-ms': {
    key: 'leaseMs',
    env: 'LEASEKV_LEASE_MS',
    help: "leader lease duration (default the profile's, 540 ms local; shortened if needed so that lease·(1+ρ)/(1−ρ) < --election-timeout-ms)",
  },
  '--max-drift-rate': {
    key: 'maxDriftRate',
    env: 'LEASEKV_MAX_DRIFT_RATE',
    help: `bound on clock-rate drift between members, at most ${MAX_DRIFT_RATE} (default ${DEFAULT_DRIFT_RATE})`,
  },
  '--snapshot-threshold': {
    key: 'snapshotThreshold',
    env: 'LEASEKV_SNAPSHOT_THRESHOLD',
    help: 'applied entries between snapshots (default 10000)',
  },
  '--snapshot-threshold-bytes': {
    key: 'snapshotThresholdBytes',
    env: 'LEASEKV_SNAPSHOT_THRESHOLD_BYTES',
    help: 'applied entry bytes between snapshots, which bounds the log held in memory (default 33554432)',
  },
  '--log-window-bytes': {
    key: 'logWindowBytes',
    env: 'LEASEKV_LOG_WINDOW_BYTES',
    help: 'applied log entry bytes kept in memory past the snapshot; older ones are read from the WAL (default 4194304)',
  },
  '--append-hold-ms': {
    key: 'appendHoldMs',
    env: 'LEASEKV_APPEND_HOLD_MS',
    help: 'leader: hold new entries for a follower up to this long while an append to it is in flight, to send fewer, larger appends (default 0: off; at most the heartbeat interval)',
  },
  '--max-key-bytes': { key: 'maxKeyBytes', env: 'LEASEKV_MAX_KEY_BYTES', help: 'largest key (default 4096)' },
  '--max-value-bytes': {
    key: 'maxValueBytes',
    env: 'LEASEKV_MAX_VALUE_BYTES',
    help: 'largest value (default 1048576)',
  },
  '--max-pending-requests': {
    key: 'maxPendingRequests',
    env: 'LEASEKV_MAX_PENDING_REQUESTS',
    help: 'in-flight client requests before back-pressure (default 1024)',
  },
  '--request-timeout-ms': {
    key: 'requestTimeoutMs',
    env: 'LEASEKV_REQUEST_TIMEOUT_MS',
    help: 'server-side deadline of one request (default 5000)',
  },
  '--stop-timeout-ms': {
    key: 'stopTimeoutMs',
    env: 'LEASEKV_STOP_TIMEOUT_MS',
    help: 'a SIGTERM/SIGINT stop (graceful: lease handed over, requests drained, storage closed) that takes longer exits at once with code 1 (default 15000)',
  },
  '--max-json-depth': {
    key: 'maxJsonDepth',
    env: 'LEASEKV_MAX_JSON_DEPTH',
    help: 'deepest JSON nesting in a request body, checked before parsing (default 64)',
  },
  '--max-response-bytes': {
    key: 'maxResponseBytes',
    env: 'LEASEKV_MAX_RESPONSE_BYTES',
    help: "largest Range or Txn answer (keys and values, plus 40 bytes a key); a bigger one is refused with resource_exhausted and clients read in pages (default 3145728: under gRPC clients' 4 MiB)",
  },
  '--max-pending-response-bytes': {
    key: 'maxPendingResponseBytes',
    env: 'LEASEKV_MAX_PENDING_RESPONSE_BYTES',
    help: 'answer bytes of Range and Txn calls being built at once, each counted at the most it may hold; more are refused with resource_exhausted, retryable (default 134217728)',
  },
  '--max-pending-per-connection': {
    key: 'maxPendingPerConnection',
    env: 'LEASEKV_MAX_PENDING_PER_CONNECTION',
    help: 'in-flight requests of one client connection (default max(8, max-pending-requests/8))',
  },
  '--max-pending-per-source': {
    key: 'maxPendingPerSource',
    env: 'LEASEKV_MAX_PENDING_PER_SOURCE',
    help: 'in-flight requests of one client IP address, all its connections (default max(8, max-pending-requests/4))',
  },
  '--max-requests-per-source-per-turn': {
    key: 'maxRequestsPerSourcePerTurn',
    env: 'LEASEKV_MAX_REQUESTS_PER_SOURCE_PER_TURN',
    help: "requests of one client IP address read per turn of the API's event loop while other addresses are served; its connections wait for the next turn (default 32)",
  },
  '--headers-timeout-ms': {
    key: 'headersTimeoutMs',
    env: 'LEASEKV_HEADERS_TIMEOUT_MS',
    help: "HTTP/1.1: time to receive a request's headers, else 408 and close (default 10000)",
  },
  '--request-receive-timeout-ms': {
    key: 'requestReceiveTimeoutMs',
    env: 'LEASEKV_REQUEST_RECEIVE_TIMEOUT_MS',
    help: 'HTTP/1.1: time to receive a whole request, else 408 and close (default 60000)',
  },
  '--max-connections': {
    key: 'maxConnections',
    env: 'LEASEKV_MAX_CONNECTIONS',
    help: 'client connections open at once (default 10000)',
  },
  '--max-connections-per-source': {
    key: 'maxConnectionsPerSource',
    env: 'LEASEKV_MAX_CONNECTIONS_PER_SOURCE',
    help: 'client connections open at once from one IP address (default 2000)',
  },
  '--max-new-connections-per-sec': {
    key: 'maxNewConnectionsPerSec',
    env: 'LEASEKV_MAX_NEW_CONNECTIONS_PER_SEC',
    help: 'new client connections accepted per second (default 2000)',
  },
  '--max-new-connections-per-source-per-sec': {
    key: 'maxNewConnectionsPerSourcePerSec',
    env: 'LEASEKV_MAX_NEW_CONNECTIONS_PER_SOURCE_PER_SEC',
    help: 'new client connections per second from one IP address (default 1000)',
  },
  '--max-stream-resets-per-sec': {
    key: 'maxStreamResetsPerSec',
    env: 'LEASEKV_MAX_STREAM_RESETS_PER_SEC',
    help: 'HTTP/2 stream resets per second on one connection before it is closed (default 200)',
  },
  '--max-concurrent-streams': {
    key: 'maxConcurrentStreams',
    env: 'LEASEKV_MAX_CONCURRENT_STREAMS',
    help: 'HTTP/2 streams (requests and watches) open at once on one connection; more are refused (default 256)',
  },
  '--max-unsent-bytes-per-source': {
    key: 'maxUnsentBytesPerSource',
    env: 'LEASEKV_MAX_UNSENT_BYTES_PER_SOURCE',
    help: "answer bytes handed to one client IP address's connections and not read by it yet; past it, its new requests are refused with resource_exhausted until it reads (default 67108864; at least the largest answer)",
  },
  '--max-unsent-bytes': {
    key: 'maxUnsentBytes',
    env: 'LEASEKV_MAX_UNSENT_BYTES',
    help: 'the same over all clients: past it, every address with answers unread is refused (default 268435456)',
  },
  '--max-ttl-keys': {
    key: 'maxTtlKeys',
    env: 'LEASEKV_MAX_TTL_KEYS',
    help: "keys attached to one TTL grant; a put past it is refused with invalid_argument (a grant's end deletes its keys in one revision) (default 10000)",
  },
  '--max-ttl-bytes': {
    key: 'maxTtlBytes',
    env: 'LEASEKV_MAX_TTL_BYTES',
    help: 'bytes of keys and values attached to one TTL grant, UTF-8; a put past it is refused with invalid_argument (default 67108864)',
  },
  '--max-peer-connections': {
    key: 'maxPeerConnections',
    env: 'LEASEKV_MAX_PEER_CONNECTIONS',
    help: 'inbound peer connections at once (default 2 per member + 4)',
  },
  '--watch-history': {
    key: 'watchHistory',
    env: 'LEASEKV_WATCH_HISTORY',
    help: 'revisions of change history kept for watchers starting in the past (default 100000)',
  },
  '--watch-history-bytes': {
    key: 'watchHistoryBytes',
    env: 'LEASEKV_WATCH_HISTORY_BYTES',
    help: 'bytes of change history kept for watchers starting in the past, on the heap (default 16777216)',
  },
  '--watch-progress-ms': {
    key: 'watchProgressMs',
    env: 'LEASEKV_WATCH_PROGRESS_MS',
    help: 'an idle watcher gets a progress notification this often (default 5000)',
  },
  '--auto-compaction-age-ms': {
    key: 'autoCompactionAgeMs',
    env: 'LEASEKV_AUTO_COMPACTION_AGE_MS',
    help: 'the leader compacts revisions older than this (default 3600000, one hour; 0: not by age)',
  },
  '--auto-compaction-revisions': {
    key: 'autoCompactionRevisions',
    env: 'LEASEKV_AUTO_COMPACTION_REVISIONS',
    help: 'the leader compacts all but about the last N revisions (default 0: not by count)',
  },
  '--lease-reads': {
    key: 'leaseReads',
    env: 'LEASEKV_LEASE_READS',
    help: 'on (default): linearizable reads from the leader lease; off: a ReadIndex round each',
  },
  '--auth': {
    key: 'auth',
    env: 'LEASEKV_AUTH',
    boolean: true,
    help: 'require users and roles on the client API (docs/security.md); once enabled, auth stays on cluster-wide',
  },
  '--root-password-file': {
    key: 'rootPasswordFile',
    env: 'LEASEKV_ROOT_PASSWORD_FILE',
    help: "with --auth: the root user's password (first line of the file); the leader creates root with it if auth is not set up yet",
  },
  '--auth-token-ttl-ms': {
    key: 'authTokenTtlMs',
    env: 'LEASEKV_AUTH_TOKEN_TTL_MS',
    help: 'how long a token from Authenticate lives (default 600000)',
  },
  '--auth-attempts-per-sec': {
    key: 'authAttemptsPerSec',
    env: 'LEASEKV_AUTH_ATTEMPTS_PER_SEC',
    help: 'Authenticate attempts (each a scrypt hash) admitted per second on this node; more get resource_exhausted (default 20)',
  },
  '--auth-attempts-per-source-per-sec': {
    key: 'authAttemptsPerSourcePerSec',
    env: 'LEASEKV_AUTH_ATTEMPTS_PER_SOURCE_PER_SEC',
    help: 'Authenticate attempts admitted per second from one source address (default 5)',
  },
  '--api-thread': {
    key: 'apiThread',
    env: 'LEASEKV_API_THREAD',
    help: "on (default): the client API on its own thread, so clients cannot delay the lease's heartbeats; off: on the node's thread (one isolate, ~1 s faster start)",
  },
  '--http1-framing': {
    key: 'http1Framing',
    env: 'LEASEKV_HTTP1_FRAMING',
    help: 'on (default): plain JSON Gets and Puts on plaintext HTTP/1.1 are read by a strict framing instead of node:http (api/framing.ts); off: every request through node:http (if a client trips on it)',
  },
  '--log-level': {
    key: 'logLevel',
    env: 'LEASEKV_LOG_LEVEL',
    help: 'trace|debug|info|warn|error|silent (default info)',
  },
  '--config': {
    key: 'config',
    env: 'LEASEKV_CONFIG',
    help: 'JSON file with any of these settings (keys as the flags without --, camelCase or kebab-case)',
  },
};

/** A whole-number setting: `dflt` when not given, else refused unless in [min, max], naming the flag. */
export function intSetting(raw: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new NodeConfigError(`${name}: '${raw}' must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function flagHelp(): string {
  return Object.entries(FLAGS)
    .map(([flag, spec]) => `  ${flag.padEnd(24)} ${spec.help} [${spec.env}]`)
    .join('\n');
}
