// GET /metrics in Prometheus text format (issue 6). One prom-client Registry per node — never the
// global one — so that several nodes in one process (tests) keep their numbers apart.
//
// Sources: the node's 'raft' and 'request' events (counted as they happen), the core status (read at
// scrape time), the transport's cumulative counters (turned into counter increments at scrape time)
// and the disk's fsync latencies (drained into a histogram every second, which also bounds the list
// the storage keeps until someone drains it).
import { clusterProtocolVersion } from '../transport/version.ts';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../transport/codec.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RaftEvent, Role } from '../raft/types.ts';
import type { ExtraRoute } from './api/server.ts';
import type { LeaseKvNode } from './node.ts';
import type { NodeParts } from './start.ts';
import type { LoopLagStats } from './loop-lag.ts';
import type { ApiThreadStats } from './api-thread/stats.ts';
import { THREAD_MEMORY_KINDS, threadMemory } from '../util/thread-memory.ts';
import { RequestMetrics } from './request-metrics.ts';

const ROLES: readonly Role[] = ['follower', 'pre-candidate', 'candidate', 'leader'];
/** Latency buckets in seconds: 50 µs .. 10 s (lease reads are tens of µs, fsyncs ms, timeouts s). */
const LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const FSYNC_DRAIN_INTERVAL_MS = 1000;

/** prom-client's event-loop sampler's period (its series are not exported): about 12 days. */
const DEFAULT_LAG_PRECISION_MS = 2 ** 30;

const PROTOCOL_RANGE = { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION };

export interface NodeMetrics {
  readonly registry: Registry;
  readonly route: ExtraRoute;
  /** Stops the fsync drain timer and detaches from the node's events. */
  close(): void;
}

type PeerCounterName = 'msgsSent' | 'msgsReceived' | 'bytesSent' | 'bytesReceived' | 'errors' | 'drops';

export function createNodeMetrics(node: LeaseKvNode, parts: NodeParts): NodeMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: DEFAULT_LAG_PRECISION_MS });
  // prom-client's event-loop lag (nodejs_eventloop_lag_*) sampled this thread every 10 ms with a
  // native timer of its own, forever: 100 wake-ups a second of an idle member (session 9,
  // docs/benchmarks.md "Idle cost"). leasekv_consensus_loop_lag_* measure this same thread
  // (loop-lag.ts), finely while it works; prom-client's series are dropped, and their sampler
  // (it cannot be turned off) is given a period it never reaches.
  for (const m of registry.getMetricsAsArray())
    if (m.name.startsWith('nodejs_eventloop_lag')) registry.removeSingleMetric(m.name);

  new Gauge({
    name: 'leasekv_role',
    help: 'Raft role of this node (1 for the current role, 0 for the others)',
    labelNames: ['role'],
    registers,
    collect() {
      const role = node.raftStatus().role;
      for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  const statusGauge = (
    name: string,
    help: string,
    read: (st: ReturnType<LeaseKvNode['raftStatus']>) => number,
  ): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(node.raftStatus()));
      },
    });
  };
  statusGauge('leasekv_term', 'Current Raft term', (st) => st.term);
  statusGauge('leasekv_lease_held', '1 while this node is leader with a valid lease', (st) => (st.leaseHeld ? 1 : 0));
  statusGauge(
    'leasekv_lease_remaining_seconds',
    "This leader's lease left, on its own clock (0 when not held)",
    (st) => st.leaseRemainingMs / 1000,
  );
  statusGauge(
    'leasekv_old_lease_remaining_seconds',
    'Longest lease of another leader this node believes may still run',
    (st) => st.oldLeaseRemainingMs / 1000,
  );
  statusGauge(
    'leasekv_waiting_for_old_lease',
    "1 while this new leader waits for the old leader's lease to expire",
    (st) => (st.waitingForOldLease ? 1 : 0),
  );
  statusGauge('leasekv_commit_index', 'Highest log index known committed', (st) => st.commit);
  statusGauge('leasekv_applied_index', 'Highest log index applied to the key-value state machine', (st) => st.applied);
  statusGauge('leasekv_last_log_index', 'Index of the last entry in the local log', (st) => st.lastIndex);
  statusGauge('leasekv_apply_lag_entries', 'Committed entries not yet applied (commit - applied)', (st) =>
    Math.max(0, st.commit - st.applied),
  );
  const coordGauge = (name: string, help: string, read: (c: ReturnType<LeaseKvNode['coordStats']>) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(node.coordStats()));
      },
    });
  };
  coordGauge('leasekv_revision', "The store's revision in this node's applied state (issue 14)", (c) => c.revision);
  coordGauge('leasekv_watchers', 'Watchers open on this node', (c) => c.watchers);
  coordGauge(
    'leasekv_watch_oldest_revision',
    'Oldest revision a watcher may start from on this node (older: compacted)',
    (c) => c.watchOldestRevision,
  );
  coordGauge(
    'leasekv_ttl_grants',
    'TTL grants (keys with a time to live; not the leader lease) that exist',
    (c) => c.ttlGrants,
  );
  coordGauge('leasekv_ttl_counting', '1 while this node is the leader counting TTL grants down', (c) =>
    c.ttlCounting ? 1 : 0,
  );
  new Gauge({
    name: 'leasekv_follower_match_index',
    help: 'Leader only: highest index known replicated on each follower',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      const st = node.raftStatus();
      if (st.role !== 'leader') return;
      for (const [peer, pr] of Object.entries(st.progress)) this.set({ peer }, pr.match);
    },
  });

  // Issue 16: which of the node's V8 isolates holds what (src/util/thread-memory.ts).
  new Gauge({
    name: 'leasekv_thread_memory_bytes',
    help: 'Per thread (node, api, wal): its V8 heap used and total, and its off-heap memory (external, of it arrayBuffers), as process.memoryUsage() counts them',
    labelNames: ['thread', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const [thread, m] of Object.entries(threadMemory()))
        for (const kind of THREAD_MEMORY_KINDS) this.set({ thread, kind }, m[kind]);
    },
  });

  // Issue 13: the lag of the loop that runs consensus (heartbeats, votes, lease renewals).
  const lagGauge = (name: string, help: string, read: (l: LoopLagStats) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(parts.loopLag()) / 1000);
      },
    });
  };
  lagGauge(
    'leasekv_consensus_loop_lag_max_seconds',
    'Longest event-loop delay of the consensus thread in the last 10-20 s (a stall near the election timeout costs the lease)',
    (l) => l.maxMs,
  );
  lagGauge(
    'leasekv_consensus_loop_lag_p99_seconds',
    '99th percentile event-loop delay of the consensus thread in the last 10-20 s',
    (l) => l.p99Ms,
  );

  // The client API thread (api-thread/), read from its shared counters: absent with --api-thread off.
  const apiGauge = (name: string, help: string, read: (a: ApiThreadStats) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const a = parts.apiStats();
        if (a === null) this.reset();
        else this.set(read(a));
      },
    });
  };
  apiGauge(
    'leasekv_api_loop_lag_max_seconds',
    'Longest event-loop delay of the client API thread in the last 10-20 s (slow answers, not a lost lease)',
    (a) => a.loopLagMaxUs / 1e6,
  );
  apiGauge(
    'leasekv_api_loop_lag_p99_seconds',
    '99th percentile event-loop delay of the client API thread in the last 10-20 s',
    (a) => a.loopLagP99Us / 1e6,
  );
  apiGauge('leasekv_api_in_flight', 'Client requests being answered', (a) => a.inFlight);
  apiGauge(
    'leasekv_api_local_lease_reads',
    'Lease reads answered on the client API thread from shared memory, without the consensus thread, since start (not in leasekv_requests_total)',
    (a) => a.localLeaseReads,
  );
  apiGauge(
    'leasekv_api_refused_connections',
    'Client connections reset on arrival by the connection caps, since start',
    (a) => a.refusedConnections,
  );
  apiGauge(
    'leasekv_api_rejected_overload',
    'Client requests refused with resource_exhausted (in-flight budget or its per-connection, per-source or fair share), since start',
    (a) => a.rejectedOverload,
  );

  const leaderChanges = new Counter({
    name: 'leasekv_leader_changes_total',
    help: 'Times the known leader changed (including to none)',
    registers,
  });
  const elections = new Counter({
    name: 'leasekv_election_timeouts_total',
    help: 'Election timeouts that started a (pre-)campaign',
    labelNames: ['pre_vote'],
    registers,
  });
  const votes = new Counter({
    name: 'leasekv_votes_total',
    help: 'Vote requests answered by this node',
    labelNames: ['pre_vote', 'granted'],
    registers,
  });
  const leaseEvents = new Counter({
    name: 'leasekv_lease_events_total',
    help: 'Lease acquisitions, renewals and losses of this node',
    labelNames: ['event'],
    registers,
  });
  const stepDowns = new Counter({
    name: 'leasekv_step_downs_total',
    help: 'Times this leader stepped down',
    registers,
  });
  let knownLeader: string | null = null;
  const onRaft = (e: RaftEvent): void => {
    switch (e.kind) {
      case 'role':
        if (e.leader !== knownLeader) {
          knownLeader = e.leader;
          leaderChanges.inc();
        }
        break;
      case 'election-timeout':
        elections.inc({ pre_vote: String(e.preVote) });
        break;
      case 'vote':
        votes.inc({ pre_vote: String(e.reason.startsWith('pre-vote')), granted: String(e.granted) });
        break;
      case 'lease-acquired':
        leaseEvents.inc({ event: 'acquired' });
        break;
      case 'lease-renewed':
        leaseEvents.inc({ event: 'renewed' });
        break;
      case 'lease-lost':
        leaseEvents.inc({ event: 'lost' });
        break;
      case 'step-down':
        stepDowns.inc();
        break;
      default:
        break;
    }
  };

  // The per-request series are counted by a collector of our own (request-metrics.ts): the same
  // output as prom-client's Counter and Histogram, without their label hashing on every request.
  const requests = new RequestMetrics(LATENCY_BUCKETS_S);
  requests.register(registry);
  const onRequest = (method: string, mode: string, ms: number, ok: boolean): void => {
    requests.observe(method, mode, ms, ok);
  };

  const drainFsync = (): void => {
    for (const ms of parts.drainFsyncLatenciesMs()) fsync.observe(ms / 1000);
  };
  const fsync: Histogram = new Histogram({
    name: 'leasekv_fsync_duration_seconds',
    help: 'Write-ahead log fsync latency',
    buckets: LATENCY_BUCKETS_S,
    registers,
    collect: drainFsync, // fresh at every scrape too, not only every second
  });
  const drainTimer = setInterval(drainFsync, FSYNC_DRAIN_INTERVAL_MS);
  drainTimer.unref();

  registerPeerMetrics(registers, parts);

  node.events.on('raft', onRaft);
  node.events.on('request', onRequest);
  const handler = (_req: IncomingMessage, res: ServerResponse): void => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`collecting metrics failed: ${String(err)}`);
      },
    );
  };
  return {
    registry,
    route: { method: 'GET', path: '/metrics', handler },
    close() {
      clearInterval(drainTimer);
      node.events.off('raft', onRaft);
      node.events.off('request', onRequest);
    },
  };
}

/** Transport counters are cumulative per peer; each scrape adds what grew since the last one. */
function registerPeerMetrics(registers: Registry[], parts: NodeParts): void {
  const seen = new Map<string, number>();
  const counter = (name: string, help: string, field: PeerCounterName): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer'],
      registers,
      collect() {
        for (const [peer, s] of Object.entries(parts.peerStats().peers)) {
          const key = `${field}/${peer}`;
          const before = seen.get(key) ?? 0;
          const now = s[field];
          // A smaller value means the stats restarted: count it all as new.
          const delta = now >= before ? now - before : now;
          seen.set(key, now);
          if (delta > 0) this.inc({ peer }, delta);
          else this.inc({ peer }, 0); // make the series visible from the first scrape
        }
      },
    });
  };
  counter('leasekv_peer_messages_sent_total', 'Raft messages sent to each peer', 'msgsSent');
  counter('leasekv_peer_messages_received_total', 'Raft messages received from each peer', 'msgsReceived');
  counter('leasekv_peer_bytes_sent_total', 'Bytes sent to each peer', 'bytesSent');
  counter('leasekv_peer_bytes_received_total', 'Bytes received from each peer', 'bytesReceived');
  counter('leasekv_peer_errors_total', 'Connection failures, decode errors and refused handshakes per peer', 'errors');
  counter('leasekv_peer_drops_total', 'Messages dropped per peer (queue full or too large)', 'drops');
  new Gauge({
    name: 'leasekv_peer_connected',
    help: '1 while the outbound connection to the peer is up',
    labelNames: ['peer'],
    registers,
    collect() {
      for (const [peer, s] of Object.entries(parts.peerStats().peers)) this.set({ peer }, s.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'leasekv_peer_queued_bytes',
    help: 'Bytes waiting to be sent to each peer',
    labelNames: ['peer'],
    registers,
    collect() {
      for (const [peer, s] of Object.entries(parts.peerStats().peers)) this.set({ peer }, s.queuedBytes);
    },
  });
  // A rolling upgrade shows here: which build each peer runs, and the protocol spoken with it.
  new Gauge({
    name: 'leasekv_peer_protocol_version',
    help: 'Peer protocol of the last handshake with each peer (0: none yet); software: its leasekv version ("" before 0.2.0)',
    labelNames: ['peer', 'software'],
    registers,
    collect() {
      this.reset();
      for (const [peer, s] of Object.entries(parts.peerStats().peers))
        this.set({ peer, software: s.software }, s.protocolVersion);
    },
  });
  new Gauge({
    name: 'leasekv_cluster_protocol_version',
    help: 'The newest peer protocol every member is known to speak (the lowest spoken with a peer; the oldest this build speaks while one is unreached)',
    registers,
    collect() {
      this.set(clusterProtocolVersion(PROTOCOL_RANGE, Object.values(parts.peerStats().peers)));
    },
  });
}
