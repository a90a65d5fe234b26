// The client API thread (docs/design.md, "Threads"): the front end, HTTP/1.1 and HTTP/2, gRPC and
// Connect, the JSON fast path and watch streams run here, on their own event loop and V8 heap, and
// reach the node only through the port (remote.ts). Whatever clients send costs this thread's time;
// the node's thread, which keeps the lease, sees one short message per request.
import { parentPort, type MessagePort } from 'node:worker_threads';
import { startApiServer, type ApiLogger, type ApiServer } from '../api/server.ts';
import { anyOf, LoopLag, loopBusy, workMoved } from '../loop-lag.ts';
import type { ClientTlsMaterial } from '../api/front.ts';
import { forwardTo } from './forward.ts';
import type { ApiThreadData, ToApi, ToNode } from './protocol.ts';
import { NodeLink, RemoteAuth, RemoteBackend, RemoteCluster } from './remote.ts';
import { TurnBatch } from './turn-batch.ts';
import { AuthTable } from '../../kv/auth.ts';
import { AuthGate } from '../auth/gate.ts';
import { STATS_INTERVAL_MS, writeStats } from './stats.ts';
import { LocalReads } from './local-reads.ts';
import { publishThreadMemory } from '../../util/thread-memory.ts';
import { API_IDLE_COLLECT, collectLogged, LOOP_BUSY_MS, startIdleCollect } from '../idle-collect.ts';

const port = parentPort as MessagePort;
publishThreadMemory();
let data: ApiThreadData | null = null;
// Requests go out once per turn, together (turn-batch.ts); logs and lifecycle messages at once, behind them.
// Before each send the turn's packed Puts get their bytes (put-pack.ts).
const out = new TurnBatch<ToNode>(
  (m) => port.postMessage(m),
  'immediate',
  () => link.seal(),
);
const post = (m: ToNode): void => out.now(m);

/** Errors logged here are logged by the node's logger: an Error does not cross the port, its text does. */
function plain(obj: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? { message: v.message, stack: v.stack } : v;
  return out;
}
const logger: ApiLogger = {
  info: (obj, msg = '') => post({ t: 'log', level: 'info', obj: plain(obj), msg }),
  warn: (obj, msg = '') => post({ t: 'log', level: 'warn', obj: plain(obj), msg }),
  error: (obj, msg = '') => post({ t: 'log', level: 'error', obj: plain(obj), msg }),
};

// Messages to the node: one per request that needs it, one per turn for its plain Puts (the loop
// lag's measure of work, below).
let toNode = 0;
const link = new NodeLink((m) => {
  toNode++;
  out.push(m);
});
let api: ApiServer | null = null;
let localReads: LocalReads | null = null;
let closing = false;
port.on('message', (m: ToApi) => {
  if (m.t === 'batch') for (const one of m.ms) onMessage(one);
  else onMessage(m);
});

function onMessage(m: ToApi): void {
  if (link.handle(m)) return;
  if (m.t === 'tls') tlsMaterial = asBuffers(m.material);
  else if (m.t === 'auth') authTable = tableOf(m.table);
  else if (m.t === 'start' && data === null) {
    data = m.data;
    void start(m.data);
  } else if (m.t === 'close' && !closing) {
    closing = true;
    void (async () => {
      try {
        await api?.close(m.drainMs === undefined ? {} : { drainMs: m.drainMs });
      } finally {
        link.close();
        stopIdleCollect();
        lag.close();
        post({ t: 'closed' });
      }
    })();
  }
}

// After heavy load, a compacting collection once this thread goes idle (idle-collect.ts): its old
// space otherwise stays up to ~45 MiB over what is live (the leader's, which parsed every request).
const stopIdleCollect = startIdleCollect(API_IDLE_COLLECT, LOOP_BUSY_MS, collectLogged(logger));
// The counters go to shared memory from the loop-lag probe's timer (every 10 ms while this thread
// works, every STATS_INTERVAL_MS once idle), at most every STATS_MIN_GAP_MS: no timer of their own
// to wake an idle thread (session 9).
const STATS_MIN_GAP_MS = 100;
let statsWrittenMs = -Infinity;
function publishStats(): void {
  const now = performance.now();
  if (api === null || data === null || now - statsWrittenMs < STATS_MIN_GAP_MS) return;
  statsWrittenMs = now;
  const l = lag.stats();
  writeStats(data.stats, {
    refusedConnections: api.connections.refusedConnections,
    rejectedOverload: api.core.rejectedOverload,
    inFlight: api.core.inFlight,
    fastServed: api.fastPath?.served ?? 0,
    fastDeclined: api.fastPath?.declined ?? 0,
    localLeaseReads: localReads?.served ?? 0,
    loopLagMaxUs: l.maxMs * 1000,
    loopLagP99Us: l.p99Ms * 1000,
  });
}
// Working: a request for the node or a lease read answered here, or the loop busy 25 % of the time
// (requests refused here — floods, garbage — cost only this thread; at 10 % an idle thread's own
// probes, preempted on an oversubscribed machine, sometimes counted as work).
const lag = new LoopLag({
  busy: anyOf(
    workMoved(() => toNode + (localReads?.served ?? 0)),
    loopBusy(0.25),
  ),
  idleProbeMs: STATS_INTERVAL_MS,
  onProbe: publishStats,
});

/** TLS material as Buffers (a Buffer crosses a port as a plain Uint8Array). */
function asBuffers(m: ClientTlsMaterial): ClientTlsMaterial {
  const b = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return { cert: b(m.cert), key: b(m.key), ca: m.ca === null ? null : b(m.ca) };
}
let tlsMaterial: ClientTlsMaterial | null = null;

/** A copy of the node's auth table (a new object per change, so the gate's caches start over). */
function tableOf(bytes: Uint8Array): AuthTable {
  const t = new AuthTable();
  t.restore(bytes);
  return t;
}
let authTable = new AuthTable();

async function start(d: ApiThreadData): Promise<void> {
  tlsMaterial = d.tls === null ? null : asBuffers(d.tls);
  if (d.auth !== null) authTable = tableOf(d.auth.table);
  const auth =
    d.auth === null
      ? {}
      : {
          auth: new AuthGate({
            table: () => authTable,
            required: d.auth.required,
            tokenTtlMs: d.auth.tokenTtlMs,
            authAttemptsPerSec: d.auth.authAttemptsPerSec,
            authAttemptsPerSourcePerSec: d.auth.authAttemptsPerSourcePerSec,
            logger,
          }),
          authBackend: new RemoteAuth(link, () => authTable),
        };
  localReads = d.leaseView === null ? null : new LocalReads(d.leaseView);
  try {
    const forward = forwardTo(d.adminSocket);
    api = await startApiServer({
      host: d.host,
      port: d.port,
      backend: new RemoteBackend(link, localReads),
      ...(d.withCluster ? { cluster: new RemoteCluster(link) } : {}),
      ...auth,
      limits: d.limits,
      logger,
      fastPath: d.fastPath,
      http1Framing: d.http1Framing,
      ...(d.allowedHosts === null ? {} : { allowedHosts: d.allowedHosts }),
      // Read per new connection: a reload (a 'tls' message) takes effect for the next handshake.
      ...(tlsMaterial === null ? {} : { tls: { current: () => tlsMaterial as ClientTlsMaterial } }),
      extraRoutes: d.routes.map((r) => ({ method: r.method, path: r.path, handler: forward })),
    });
    post({ t: 'listening', port: api.port });
  } catch (e) {
    post({ t: 'failed', message: e instanceof Error ? e.message : String(e) });
  }
}
