// Starting and stopping a node process: storage recovery, transport, state machine, core, API.
import { statSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { KvStateMachine } from '../kv/machine.ts';
import { AutoCompactor } from './auto-compact.ts';
import { PeerTransport, type TransportStats } from '../transport/peer-transport.ts';
import { formatHostPort, NodeConfigError, type NodeConfig } from './config.ts';
import { clientPortSecurity } from './config-addrs.ts';
import { LeaseKvNode, raftConfigFor, VERSION } from './node.ts';
import { openNodeStorage, restoreSnapshotFile, type NodeStorage, type OpenedStorage } from './storage-adapter.ts';
import { acquireDirLock, describeHolder, type DirLock } from '../storage/dir_lock.ts';
import { makeDirs } from '../storage/fs.ts';
import { collectGarbage } from '../storage/release_memory.ts';
import { startNodeIdleCollect } from './idle-collect.ts';
import { nodeTransport, spoolOpener } from './transport-adapter.ts';
import { backupRoute } from './backup-route.ts';
import { healthRoute } from './health.ts';
import {
  checkFlags,
  membersOf,
  NEW_MEMBER_FLAGS,
  refuseDataDirWithoutData,
  resolveIdentity,
  StartRefusedError,
} from './identity.ts';
import type { ResolvedIdentity } from './identity.ts';
import { readIdentity } from '../storage/identity.ts';
import { fetchJoinInfo } from './join.ts';
import { wireMembership } from './start-membership.ts';
import { wireRemoval, type RemovalWiring } from './start-removal.ts';
import { NodeTls } from './tls-files.ts';
import type { TlsMaterial } from '../transport/options.ts';
import type { ApiServerOptions, ExtraRoute } from './api/server.ts';
import { spawnApiThread, startApiThread, type ApiThread, type ClientApi } from './api-thread/host.ts';
import type { Worker } from 'node:worker_threads';
import type { ApiThreadStats } from './api-thread/stats.ts';
import { nodeLoopLag, type LoopLagStats } from './loop-lag.ts';
import { AuthGate, type AuthGateSettings } from './auth/gate.ts';
import { readRootPassword, startAuthEnabler } from './auth/enable.ts';
import { StartAbortedError, type StartPoint } from './start-abort.ts';

export interface RunningNode {
  readonly node: LeaseKvNode;
  /** The client API: on its own thread (api-thread/), or in this one with --api-thread off. */
  readonly api: ClientApi;
  readonly log: Logger;
  /** Reads the TLS files again (SIGHUP): new handshakes use them. Returns the errors (material in force kept). */
  reloadTls(): string[];
  /** Graceful stop: hand leadership over (bounded), stop serving, flush and close storage. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** Extra HTTP routes (dashboard, metrics) built once the node exists. */
  readonly routes?: (node: LeaseKvNode, parts: NodeParts, cfg: NodeConfig) => readonly ExtraRoute[];
  /** Tests only (no flag or variable reaches it): wraps the storage the node writes through, to inject faults. */
  readonly wrapStorage?: (storage: NodeStorage) => NodeStorage;
  /**
   * A stop asked for while starting (serve's SIGTERM/SIGINT): start-up looks at it after each step
   * and, before it serves, stops there and throws StartAbortedError, having released everything it
   * held (lock, storage, threads, ports). Once serving, it returns and the caller stops the node.
   */
  readonly signal?: AbortSignal;
  /** Awaited at each named step (serve's test-only pause, LEASEKV_TEST_PAUSE_AT; start.test.ts). */
  readonly checkpoint?: (point: StartPoint) => Promise<void>;
}

/** The logger a node writes to unless given one: JSON lines on stdout, tagged with its id. */
export function nodeLogger(cfg: NodeConfig): Logger {
  return pino({ level: cfg.logLevel, base: { node: cfg.id } });
}

/** The checkpoint, then a stop asked for meanwhile ends start-up here (StartAbortedError). */
async function step(opts: StartOptions, point: StartPoint): Promise<void> {
  await opts.checkpoint?.(point);
  if (opts.signal?.aborted === true) throw new StartAbortedError(point);
}

/** What metrics need beyond the node itself: the transport's counters and the disk's fsync latencies. */
export interface NodeParts {
  peerStats(): TransportStats;
  /** fsync latencies (ms) since the last call; the caller must drain regularly (the list grows until then). */
  drainFsyncLatenciesMs(): number[];
  /** The consensus loop's lag (loop-lag.ts): this thread drives the core. */
  loopLag(): LoopLagStats;
  /** The client API thread's counters and loop lag; null when the API runs on this thread. */
  apiStats(): ApiThreadStats | null;
}

/** How long `serve --join` keeps asking the current members for the configuration. */
const JOIN_WAIT_MS = 30_000;

export async function startNode(cfg: NodeConfig, opts: StartOptions = {}): Promise<RunningNode> {
  const log = opts.logger ?? nodeLogger(cfg);
  // Timing rules (lease vs election timeout, heartbeat vs lease) are refused before anything is
  // created or opened: a bad configuration leaves no data folder and no open handle behind.
  raftConfigFor(cfg);
  // Unreadable or mismatched TLS files are refused before the data dir is touched.
  const nodeTls = new NodeTls(cfg.tls);
  for (const w of nodeTls.warnings()) log.warn(w);
  checkDataDir(cfg);
  await step(opts, 'before-lock');
  makeDirs(cfg.dataDir);
  // One process per data dir (docs/storage.md): taken before anything in it is read or written.
  const lock = acquireDirLock(cfg.dataDir);
  if (lock.tookOverFrom !== null) {
    log.warn(
      { lock: lock.path, stale: lock.tookOverFrom },
      `took over a stale data-dir lock of ${describeHolder(lock.tookOverFrom)}`,
    );
  }
  // The client API thread loads its modules while the storage is opened (api-thread/host.ts).
  const apiWorker = cfg.apiThread ? spawnApiThread() : null;
  let opened: OpenedStorage;
  try {
    await step(opts, 'locked');
    opened = await openNodeStorage(cfg.dataDir);
  } catch (e) {
    await apiWorker?.terminate();
    lock.release();
    throw e;
  }
  try {
    await step(opts, 'storage-opened');
    // The members come from the data dir once it has an identity (checkFlags below); a member just
    // added asks a current member first (--join).
    let join = null;
    if (cfg.join.length > 0 && opened.fresh && readIdentity(cfg.dataDir) === null) {
      log.info({ join: cfg.join.map(formatHostPort) }, 'asking the members for the cluster configuration (--join)');
      join = await fetchJoinInfo(cfg.join, JOIN_WAIT_MS, nodeTls.client(), opts.signal);
    }
    const resolved = resolveIdentity(cfg, opened.fresh, join);
    const { book } = resolved;
    const initial = membersOf(resolved.initial);
    const effective: NodeConfig = {
      ...cfg,
      peers: initial.peers,
      clientAddrs: initial.clientAddrs,
      learners: resolved.learners,
    };
    log.info(
      { cluster: book.record.clusterId, incarnation: book.record.incarnation, members: [...initial.peers.keys()] },
      book.createdNow ? `recorded a new cluster identity (${book.record.how})` : 'cluster identity',
    );
    return await startOnStorage(effective, opts, log, opened, lock, resolved, cfg, nodeTls, apiWorker);
  } catch (e) {
    await apiWorker?.terminate();
    // Without this the storage worker (and a listening transport) would keep the process alive
    // after "could not start" (a port in use, say): the node would hang instead of exiting.
    await opened.storage.close().catch(() => undefined);
    lock.release();
    throw e;
  }
}

/**
 * A data dir that is not a folder, or is not there or holds no member's data while neither --peers
 * nor --join says this is a new member (a mistyped path, say), or holds only other data dirs, is
 * refused before anything is created.
 */
function checkDataDir(cfg: NodeConfig): void {
  let isDir: boolean;
  try {
    isDir = statSync(cfg.dataDir).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (cfg.peersGiven || cfg.join.length > 0) return;
    throw new StartRefusedError(`the data dir ${cfg.dataDir} does not exist: check the path, or ${NEW_MEMBER_FLAGS}`);
  }
  if (!isDir) throw new NodeConfigError(`--data-dir ${cfg.dataDir} is not a folder`);
  refuseDataDirWithoutData(cfg.dataDir, cfg.id, cfg.peersGiven || cfg.join.length > 0);
}

/** `cfg`: with the members this node starts with; `flags`: as given (for checkFlags). */
async function startOnStorage(
  cfg: NodeConfig,
  opts: StartOptions,
  log: Logger,
  opened: OpenedStorage,
  lock: DirLock,
  resolved: ResolvedIdentity,
  flags: NodeConfig,
  nodeTls: NodeTls,
  apiWorker: Worker | null,
): Promise<RunningNode> {
  const { book } = resolved;
  if (opened.repaired !== null) {
    log.warn(
      opened.repaired,
      `write-ahead log had a torn tail (a write cut by a crash after the last fsync): dropped ${opened.repaired.bytesDropped} bytes at ${opened.repaired.file} offset ${opened.repaired.offset}`,
    );
  }
  const kv = new KvStateMachine();
  if (opened.snapshot !== null) await restoreSnapshotFile(kv, cfg.dataDir, opened.snapshot);
  // The closures below keep `storage`, never `opened`: it holds the log read at start, which must
  // not stay alive with the node.
  const storage = opened.storage;
  log.info(
    {
      fresh: opened.fresh,
      term: opened.hardState.term,
      commit: opened.hardState.commit,
      snapshot: opened.snapshot?.meta.index ?? 0,
      entries: opened.entries.length,
    },
    opened.fresh ? 'starting a new member' : 'recovered from the data dir',
  );
  let removal: RemovalWiring | null = null;
  const transport = new PeerTransport({
    selfId: cfg.id,
    clusterId: cfg.clusterToken,
    listenHost: cfg.listenPeer.host,
    listenPort: cfg.listenPeer.port,
    // Dialled where --peer-routes says, else at the address recorded for them (as syncPeers does).
    peers: new Map(
      [...cfg.peers].filter(([id]) => id !== cfg.id).map(([id, hp]) => [id, cfg.peerRoutes.get(id) ?? hp]),
    ),
    // A frame carries at most one AppendRequest batch (maxBytesPerAppend, 1 MiB) plus one value.
    maxFrameBytes: 4 * cfg.maxValueBytes + (8 << 20),
    ...(cfg.maxPeerConnections === null ? {} : { maxInboundConnections: cfg.maxPeerConnections }),
    maxQueuedBytesPerPeer: 64 << 20,
    reconnectBackoffMinMs: Math.max(10, Math.floor(cfg.heartbeatIntervalMs / 2)),
    reconnectBackoffMaxMs: Math.max(100, cfg.electionTimeoutMinMs),
    logger: log.child({ component: 'transport' }),
    identity: { ...book.peerIdentity(), onRemoved: (peer, n) => removal?.notice(peer, n) },
    softwareVersion: VERSION,
    snapshotSpool: spoolOpener(cfg.dataDir, log),
    tls: nodeTls.peer() === null ? null : { current: () => nodeTls.peer() as TlsMaterial },
  });
  const node = new LeaseKvNode(cfg, kv, opts.wrapStorage?.(storage) ?? storage, nodeTransport(transport), log, {
    fresh: opened.fresh,
    hardState: opened.hardState,
    snapshot: opened.snapshot?.meta ?? null,
    entries: opened.entries,
  });
  transport.onSnapshotOffer((_from, msg) => node.judgeSnapshotOffer(msg));
  const membership = wireMembership(node, transport, cfg, resolved, opened, log);
  node.setPeerVersions(() => transport.stats().peers);
  removal = wireRemoval(node, transport, cfg, book, opened, log); // throws if removed in its data
  if (!resolved.book.createdNow && (flags.peersGiven || flags.clientAddrs.size > 0)) {
    const inForce = membership.view(node.raftStatus().confState).filter((m) => m.peerAddr !== '');
    checkFlags(flags, membersOf(inForce), resolved.book.record.clusterId);
  }
  if (cfg.auth.rootPasswordFile !== undefined) readRootPassword(cfg.auth.rootPasswordFile);
  const gateSettings: AuthGateSettings = {
    required: cfg.auth.required,
    tokenTtlMs: cfg.auth.tokenTtlMs,
    authAttemptsPerSec: cfg.auth.authAttemptsPerSec,
    authAttemptsPerSourcePerSec: cfg.auth.authAttemptsPerSourcePerSec,
  };
  const gate = new AuthGate({
    table: () => node.authTable(),
    ...gateSettings,
    logger: log.child({ component: 'auth' }),
  });
  let api: ClientApi;
  let apiThread: ApiThread | null = null;
  const loopLag = nodeLoopLag(node, () => kv.appliedIndex);
  try {
    await transport.start();
    await step(opts, 'transport-started');
    const apiOpts: ApiServerOptions = {
      host: cfg.listenClient.host,
      port: cfg.listenClient.port,
      backend: node,
      cluster: membership,
      auth: gate,
      authBackend: node,
      limits: cfg.clientLimits,
      logger: log.child({ component: 'api' }),
      ...clientPortSecurity(cfg, () => nodeTls.client()),
      extraRoutes: [
        healthRoute(node),
        backupRoute(node, cfg, gate),
        ...(opts.routes?.(
          node,
          {
            peerStats: () => transport.stats(),
            drainFsyncLatenciesMs: () => storage.drainFsyncLatenciesMs(),
            loopLag: () => loopLag.stats(),
            apiStats: () => apiThread?.stats() ?? null,
          },
          cfg,
        ) ?? []),
      ],
    };
    // The client API on its own thread (docs/design.md, "Threads"): nothing a client does takes
    // this thread's time from heartbeats, votes and lease renewals beyond one message per request.
    if (apiWorker !== null) {
      apiThread = await startApiThread(
        {
          ...apiOpts,
          authConfig: gateSettings,
          onAuthChange: (listener) => node.onAuthTableChange(listener),
          // Lease reads of values the API thread already has are answered there (api-thread/lease-view.ts).
          leaseView: node.shareLeaseView(),
          onFailure: (err) => node.events.emit('fatal', err),
        },
        apiWorker,
      );
      api = apiThread;
    } else {
      // Loaded only here: with the API on its own thread, this thread never loads the HTTP, gRPC
      // and Connect stacks (a second or more of start-up on a loaded machine).
      const { startApiServer } = await import('./api/server.ts');
      api = await startApiServer(apiOpts);
    }
  } catch (e) {
    // Live peers' messages drive the core once the transport listens (node.start() only adds the
    // first tick): unstopped, its timer ran on after "could not start" (start-live-peers.test.ts).
    node.stop('node did not start');
    loopLag.close();
    await transport.stop().catch(() => undefined);
    throw e;
  }
  node.start();
  membership.start();
  const autoCompactor = new AutoCompactor(
    cfg.autoCompaction,
    {
      isLeader: () => node.raftStatus().role === 'leader',
      revision: () => kv.revision,
      compactRevision: () => kv.compactRevision,
      compact: (revision, signal) => node.compact({ revision }, signal),
    },
    (revision) => log.info({ revision }, 'leader: revision history compacted automatically'),
  );
  autoCompactor.start();
  const stopEnabler = startAuthEnabler(
    {
      authTable: () => node.authTable(),
      authChange: (c, s) => node.authChange(c, s),
      isLeader: () => node.raftStatus().role === 'leader',
    },
    cfg.auth,
    cfg.heartbeatIntervalMs * 2,
    log,
  );
  log.info(
    { client: `${cfg.listenClient.host}:${api.port}`, peer: `${cfg.listenPeer.host}:${cfg.listenPeer.port}` },
    'serving',
  );
  // The restore's pieces and the log read at start are garbage once startNode has returned (a later
  // turn): collect them now rather than whenever V8 next runs a full collection (release_memory.ts).
  if (opened.snapshot !== null) setImmediate(collectGarbage);
  const stopIdleCollect = startNodeIdleCollect(() => kv.appliedIndex, node.events, log);
  let storageFailed: unknown = null;
  node.events.once('fatal', (err: unknown) => (storageFailed = err));
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await opts.checkpoint?.('stopping');
        autoCompactor.stop();
        stopEnabler();
        stopIdleCollect();
        await node.handOver(Math.min(2000, cfg.electionTimeoutMinMs));
        // Requests already failed by the node (a storage error) get their answers out first.
        await api.close({ drainMs: 1000 });
        membership.stop();
        removal?.stop();
        node.stop();
        loopLag.close();
        await transport.stop();
        await storage.close().catch((e: unknown) => {
          if (storageFailed === null) throw e;
          // Expected after a storage error (the same disk fails the last flush): already logged once.
          log.debug(
            { cause: e instanceof Error ? e.message : String(e) },
            'closing the write-ahead log after the storage error failed too',
          );
        });
      } finally {
        lock.release();
      }
      log.info('stopped');
    })();
    return stopping;
  };
  const reloadTls = (): string[] => {
    if (nodeTls.client() === null && nodeTls.peer() === null) {
      log.info('no TLS files to reload: this node runs with --insecure'); // not "TLS files reloaded"
      return [];
    }
    const errors = nodeTls.reload();
    for (const e of errors) log.error({ reason: e }, 'TLS reload failed: the certificates in force are kept');
    if (errors.length === 0) {
      apiThread?.reloadTls();
      log.info('TLS files reloaded: new connections use them');
    }
    for (const w of nodeTls.warnings()) log.warn(w);
    return errors;
  };
  // From here a stop asked for is the caller's: the node serves, and stop() above stops it.
  await opts.checkpoint?.('serving');
  removal.start(); // a removal or identity refusal learnt from here (or while starting) is 'fatal'
  return { node, api, log, stop, reloadTls };
}
