// The dashboard's HTTP routes on a node's client port (issue 6): the page and its two assets (read
// once from ./assets at start — shipped with the package, nothing fetched from a CDN), the page's
// configuration, and the live feed (stream.ts).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExtraRoute } from '../api/server.ts';
import { formatHostPort } from '../config.ts';
import type { NodeConfig } from '../config.ts';
import type { LeaseKvNode } from '../node.ts';
import { createEventStream, type StreamInfo } from './stream.ts';
import type { LoopLagStats } from '../loop-lag.ts';

export interface DashboardOptions {
  readonly cfg: NodeConfig;
  /** The `leasekv up` supervisor's control URL (LEASEKV_CONTROL_URL); '' hides the controls. */
  readonly controlUrl: string;
  /** The consensus loop's lag, shown on the node's card. */
  readonly loopLag?: () => LoopLagStats;
}

export interface Dashboard {
  readonly routes: readonly ExtraRoute[];
  /** Ends every open feed (they would otherwise keep the client port's connections open). */
  close(): void;
}

function asset(name: string): Buffer {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url));
}
const ASSETS = {
  html: asset('index.html'),
  js: asset('app.js'),
  css: asset('style.css'),
};

/** The origins a member's page may have at `addr`: http:// and https:// (TLS), plus localhost for 127.0.0.1. */
function addOrigins(out: Set<string>, addr: string): void {
  for (const scheme of ['http', 'https']) {
    out.add(`${scheme}://${addr}`);
    if (addr.startsWith('127.0.0.1:')) out.add(`${scheme}://localhost:${addr.slice('127.0.0.1:'.length)}`);
  }
}

/** The origins the members' pages have (addOrigins of each client address). */
export function memberOrigins(cfg: NodeConfig): Set<string> {
  const out = new Set<string>();
  for (const hp of [cfg.listenClient, ...cfg.clientAddrs.values()]) addOrigins(out, formatHostPort(hp));
  return out;
}

export function createDashboard(node: LeaseKvNode, opts: DashboardOptions): Dashboard {
  const { cfg } = opts;
  if (opts.controlUrl !== '' && !/^http:\/\/127\.0\.0\.1:\d{1,5}$/.test(opts.controlUrl)) {
    throw new Error(`LEASEKV_CONTROL_URL must be http://127.0.0.1:PORT, got '${opts.controlUrl}'`);
  }
  const startOrigins = memberOrigins(cfg);
  // The members in force now add theirs: a member added after the start (issue 12) is shown live.
  const origins = (): Set<string> => {
    const out = new Set(startOrigins);
    for (const m of node.memberList()) {
      if (m.clientAddr !== '') addOrigins(out, m.clientAddr);
    }
    return out;
  };
  const info: StreamInfo = {
    id: cfg.id,
    controlUrl: opts.controlUrl,
    leaseDurationMs: cfg.leaseDurationMs,
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    electionTimeoutMinMs: cfg.electionTimeoutMinMs,
    electionTimeoutMaxMs: cfg.electionTimeoutMaxMs,
    members: [...cfg.peers.keys()].map((id) => {
      const ca = cfg.clientAddrs.get(id) ?? (id === cfg.id ? cfg.listenClient : undefined);
      return { id, clientAddr: ca === undefined ? '' : formatHostPort(ca) };
    }),
  };
  const stream = createEventStream(node, info, origins, opts.loopLag);
  // The page talks to the members' feeds and to the supervisor, and to nothing else. Any port of a
  // member's host: a page keeps the CSP it loaded with, and a member added later on a known host (every
  // member `leasekv up` adds: 127.0.0.1, its own port) would otherwise be listed with its feed blocked
  // ("no feed" until a reload). A member on a host new to the page still needs a reload (app.js says so).
  const csp = (): string => {
    const hosts = new Set([...origins()].map((o) => o.replace(/:\d+$/, ':*')));
    const connectSrc = ["'self'", ...hosts, ...(opts.controlUrl === '' ? [] : [opts.controlUrl])].join(' ');
    return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connectSrc}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  };

  const send =
    (type: string, body: Buffer | string, extra: Record<string, string> = {}) =>
    (_req: IncomingMessage, res: ServerResponse): void => {
      res.writeHead(200, {
        'content-type': type,
        'cache-control': 'no-cache',
        'content-length': Buffer.byteLength(body),
        'x-content-type-options': 'nosniff',
        ...extra,
      });
      res.end(body);
    };
  const routes: ExtraRoute[] = [
    {
      method: 'GET',
      path: '/',
      handler: (req, res) =>
        send('text/html; charset=utf-8', ASSETS.html, { 'content-security-policy': csp() })(req, res),
    },
    { method: 'GET', path: '/dashboard/app.js', handler: send('text/javascript; charset=utf-8', ASSETS.js) },
    { method: 'GET', path: '/dashboard/style.css', handler: send('text/css; charset=utf-8', ASSETS.css) },
    {
      method: 'GET',
      path: '/dashboard/config.json',
      handler: (req, res) => send('application/json', JSON.stringify({ ...info, nowMs: node.now() }))(req, res),
    },
    // A stream: HEAD would open a feed only to drop it (405; api/server.ts, ExtraRoute.head).
    { method: 'GET', path: '/events', handler: stream.handler, head: false },
    {
      method: 'GET',
      path: '/favicon.ico',
      handler: (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    },
  ];
  return { routes, close: () => stream.close() };
}
