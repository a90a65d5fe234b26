// GET /events: the node's live feed for the dashboard, as server-sent events.
//
//   event: hello   once per connection: who this node is, its settings, and `nowMs` — the node's
//                  MONOTONIC clock, which every other time in the feed is on. The page aligns the
//                  nodes' clocks by (arrival time − nowMs), keeping the smallest such offset seen.
//   event: raft    a consensus event (RaftEvent) with `atMs`. Commits and append rejections are
//                  left out: under load they come by the thousand and the status already has them.
//   event: status  every STATUS_INTERVAL_MS: role, term, indexes, the lease as seen right now, and
//                  the requests (count, errors, p50/p99) since the previous status, and the
//                  configuration in force (configIndex, members with their client address and
//                  whether each is a learner), and the consensus loop's lag (loopLag: maxMs,
//                  p99Ms over the last 10-20 s; src/server/loop-lag.ts).
//
// CORS: the page served by one node subscribes to the others, so answers carry
// Access-Control-Allow-Origin for the members' own origins (their client addresses); any other
// Origin is refused (403). The feed is read-only and carries no key or value.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RaftEvent } from '../../raft/types.ts';
import type { LeaseKvNode } from '../node.ts';
import { LatencyWindow } from './latency-window.ts';
import { VERSION } from '../version.ts';
import { PROTOCOL_VERSION } from '../../transport/codec.ts';
import type { LoopLagStats } from '../loop-lag.ts';

export const STATUS_INTERVAL_MS = 200;
/** Open feeds per node; more are refused with 503 (each costs a status encode per interval). */
export const MAX_SUBSCRIBERS = 64;
/** A subscriber that has this much unsent data is too slow: its feed is closed (it reconnects). */
const MAX_BUFFERED_BYTES = 1 << 20;
const HIDDEN_KINDS: ReadonlySet<RaftEvent['kind']> = new Set(['commit', 'append-rejected']);
const READ_MODES = ['lease', 'readindex', 'stale'] as const;

export interface StreamInfo {
  readonly id: string;
  readonly controlUrl: string;
  readonly leaseDurationMs: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMinMs: number;
  readonly electionTimeoutMaxMs: number;
  readonly members: readonly { readonly id: string; readonly clientAddr: string }[];
}

function roundLag(l: LoopLagStats): { maxMs: number; p99Ms: number } {
  return { maxMs: Math.round(l.maxMs * 10) / 10, p99Ms: Math.round(l.p99Ms * 10) / 10 };
}

export interface EventStream {
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  readonly subscribers: number;
  close(): void;
}

/** allowedOrigins: asked per request (the members change: a member added later may subscribe). */
export function createEventStream(
  node: LeaseKvNode,
  info: StreamInfo,
  allowedOrigins: () => ReadonlySet<string>,
  loopLag?: () => LoopLagStats,
): EventStream {
  const subs = new Set<ServerResponse>();
  const reads = new LatencyWindow();
  const writes = new LatencyWindow();
  const readModes: Record<string, number> = { lease: 0, readindex: 0, stale: 0 };
  let timer: NodeJS.Timeout | null = null;

  const broadcast = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of subs) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        subs.delete(res);
        continue;
      }
      res.write(frame);
    }
  };

  /** Whether the lease is held, kept from events and status ticks: reading the core per request costs too much. */
  let leaseHeld = false;
  const onRaft = (e: RaftEvent, atMs: number): void => {
    if (e.kind === 'lease-acquired' || e.kind === 'lease-renewed') leaseHeld = true;
    else if (e.kind === 'lease-lost' || e.kind === 'step-down') leaseHeld = false;
    if (subs.size === 0 || HIDDEN_KINDS.has(e.kind)) return;
    broadcast('raft', { atMs, e });
  };
  const onRequest = (method: string, mode: string, ms: number, ok: boolean): void => {
    if (subs.size === 0) return;
    if (mode === 'write') {
      writes.record(ms, ok);
      return;
    }
    reads.record(ms, ok);
    // A successful read's event names how it was served; a failed one names what was asked for.
    const served =
      mode === 'lease' || mode === 'readindex' || mode === 'stale' ? mode : leaseHeld ? 'lease' : 'readindex';
    readModes[served] = (readModes[served] ?? 0) + 1;
    void method;
  };

  const empty = { count: 0, errors: 0, p50Ms: 0, p99Ms: 0 };
  /** take: summarise and clear the request windows (the periodic broadcast); else report none. */
  const statusPayload = (take: boolean): object => {
    const st = node.raftStatus();
    const versions = node.memberVersions();
    leaseHeld = st.leaseHeld;
    const modes = Object.fromEntries(READ_MODES.map((m) => [m, take ? (readModes[m] ?? 0) : 0]));
    if (take) for (const m of READ_MODES) readModes[m] = 0;
    return {
      nowMs: st.nowMs,
      role: st.role,
      term: st.term,
      leader: st.leader,
      votedFor: st.votedFor,
      commit: st.commit,
      applied: st.applied,
      lastIndex: st.lastIndex,
      leaseHeld: st.leaseHeld,
      leaseRemainingMs: st.leaseRemainingMs,
      oldLeaseRemainingMs: st.oldLeaseRemainingMs,
      waitingForOldLease: st.waitingForOldLease,
      restartHoldRemainingMs: st.restartHoldRemainingMs,
      transferTarget: st.transferTarget,
      // Issue 12: the configuration in force here, so the page lists learners and members added
      // or removed after it loaded (it follows the highest configIndex any feed reports).
      configIndex: st.confIndex,
      members: versions.members.map((m) => ({
        id: m.id,
        clientAddr: m.clientAddr,
        learner: m.learner ?? false,
        protocolVersion: m.protocolVersion ?? 0,
        softwareVersion: m.softwareVersion ?? '',
      })),
      // Session 13: this node's build and peer protocol, and the newest every member is known to speak.
      build: { version: VERSION, protocol: PROTOCOL_VERSION, clusterProtocol: versions.cluster },
      // Issue 14: the store's revision, watchers here, TTL grants (keys with a time to live: not the lease above).
      coord: node.coordStats(),
      intervalMs: STATUS_INTERVAL_MS,
      reads: take ? reads.take() : empty,
      writes: take ? writes.take() : empty,
      readModes: modes,
      // Issue 13: how late the consensus thread's loop runs (heartbeats, votes, lease renewals).
      ...(loopLag === undefined ? {} : { loopLag: roundLag(loopLag()) }),
    };
  };
  const status = (): void => broadcast('status', statusPayload(true));

  const attach = (): void => {
    node.events.on('raft', onRaft);
    node.events.on('request', onRequest);
    timer = setInterval(status, STATUS_INTERVAL_MS);
    timer.unref();
  };
  const detach = (): void => {
    node.events.off('raft', onRaft);
    node.events.off('request', onRequest);
    if (timer !== null) clearInterval(timer);
    timer = null;
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = req.headers.origin;
    // A browser sends Origin only cross-origin (a page's own feed has none): a page of another site
    // is refused before it takes a subscriber slot (it could not read the feed anyway, but each
    // one it opened held a slot until the browser dropped it).
    if (origin !== undefined && !allowedOrigins().has(origin)) {
      res.writeHead(403, { 'content-type': 'text/plain', vary: 'origin' });
      res.end(`origin ${origin} is not a member's dashboard: no feed`);
      return;
    }
    const cors: Record<string, string> =
      origin !== undefined ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    if (subs.size >= MAX_SUBSCRIBERS) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5', ...cors });
      res.end(`too many dashboard subscribers (${MAX_SUBSCRIBERS})`);
      return;
    }
    // HTTP/2 (TLS with ALPN) forbids connection headers and owns its socket.
    const http1 = req.httpVersionMajor === 1;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      ...(http1 ? { connection: 'keep-alive' } : {}),
      ...cors,
    });
    if (http1) {
      req.socket.setTimeout(0); // a feed is idle between frames by design
      req.socket.setNoDelay(true);
    }
    if (subs.size === 0) attach();
    subs.add(res);
    // retry: the browser reconnects this soon after the node went away (killed, restarted).
    res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ ...info, nowMs: node.now() })}\n\n`);
    res.write(`event: status\ndata: ${JSON.stringify(statusPayload(false))}\n\n`);
    res.on('close', () => {
      subs.delete(res);
      if (subs.size === 0) detach();
    });
  };

  return {
    handler,
    get subscribers() {
      return subs.size;
    },
    close() {
      for (const res of subs) res.destroy();
      subs.clear();
      detach();
    },
  };
}
