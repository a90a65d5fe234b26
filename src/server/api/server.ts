// startApiServer: the client API of one node on one port (issue 5). gRPC and Connect over HTTP/2,
// Connect JSON/binary over HTTP/1.1, a hand-rolled fast path for the hottest JSON routes, and
// extra HTTP/1.1 routes added by others (dashboard, /metrics).
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Compression } from '@connectrpc/connect/protocol';
import { compressionBrotli, compressionGzip } from '@connectrpc/connect-node';
import type { AddressInfo } from 'node:net';
import type { KvBackend } from '../backend.ts';
import type { ClusterBackend } from '../cluster-backend.ts';
import { Cluster } from '../../gen/leasekv/v1/kv_pb.ts';
import { clusterService } from './cluster-handlers.ts';
import { ApiCore } from './core.ts';
import { FastPath } from './fast-path.ts';
import { createFrontEnd, type FrontEndStats, type FrontEndTls } from './front.ts';
import { kvRoutes } from './handlers.ts';
import { SSE_PATH, sseHandler } from './watch.ts';
import { guardedJsonDecoder } from './json-guard.ts';
import { createRpcDispatch, writeJsonError } from './rpc.ts';
import {
  afterTheRead,
  checkingIntervalMs,
  enforceHttp1Timeouts,
  HTTP2_MAX_HEADER_LIST_PAIRS,
  keepEveryHeaderField,
  limitStreamResets,
  refuseRepeatedHost,
  refuseTooManyHeaders,
} from './http-guards.ts';
import { resolveLimits, type ApiLimits } from './limits.ts';
import { ReadTurns, type ReadTurnsStats } from './read-turns.ts';
import { UnsentAnswers } from './unsent-answers.ts';
import { http1Framing, PORT_HEADERS } from './framing.ts';
import { hostCheck } from './host-check.ts';
import { LimitedLog } from '../../util/log-limit.ts';
import type { AuthGate } from '../auth/gate.ts';
import type { AuthBackend } from '../auth/backend.ts';
import { authService } from './auth-handlers.ts';
import { Auth } from '../../gen/leasekv/v1/kv_pb.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;
export interface ExtraRoute {
  readonly method: string;
  readonly path: string;
  readonly handler: RouteHandler;
  /**
   * A GET route answers HEAD too, as GET would without the body (RFC 9110 §9.3.2; Node drops the
   * body of a HEAD answer) — unless false: a stream or a backup, which a HEAD would open or build
   * only to drop (those answer HEAD 405 with Allow: GET).
   */
  readonly head?: boolean;
}

/** The subset of a pino logger the API uses. */
export interface ApiLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ApiServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly backend: KvBackend;
  /** Serves leasekv.v1.Cluster too (membership) when given. */
  readonly cluster?: ClusterBackend;
  readonly limits?: Partial<ApiLimits>;
  readonly logger?: ApiLogger;
  readonly extraRoutes?: readonly ExtraRoute[];
  /** TLS on the port (ALPN h2 and http/1.1); absent: plaintext. */
  readonly tls?: FrontEndTls;
  /** Users, roles and tokens (issue 15): checks every request, and serves leasekv.v1.Auth with `authBackend`. */
  readonly auth?: AuthGate;
  readonly authBackend?: AuthBackend;
  /**
   * DNS names a request's Host (:authority) may carry besides IP addresses and localhost
   * (host-check.ts: against DNS rebinding of a plaintext port); absent: any Host is answered.
   */
  readonly allowedHosts?: readonly string[];
  /** Serve POST /leasekv.v1.KV/Get and /Put JSON on HTTP/1.1 without Connect (default true). */
  readonly fastPath?: boolean;
  /**
   * Answer plain JSON Puts of plaintext HTTP/1.1 connections without node:http (framing.ts; default
   * true). Only with the fast path and without TLS; a request is framed only while auth is off.
   */
  readonly http1Framing?: boolean;
}

export interface ApiServer {
  readonly port: number;
  readonly core: ApiCore;
  /** The HTTP/1.1 JSON fast path (undefined when disabled); its counters say how often it answered. */
  readonly fastPath: FastPath | undefined;
  /** Connections refused by the front end's caps. */
  readonly connections: FrontEndStats;
  /** Per-source turns of reading (read-turns.ts): how often a source over its quantum was paused. */
  readonly readTurns: ReadTurnsStats;
  /** Answer bytes written but not read by their clients, per source (unsent-answers.ts). */
  readonly unsentAnswers: UnsentAnswers;
  /** HTTP/2 requests dropped without any work because the client reset them in the read that brought them. */
  readonly resetBeforeHandling: () => number;
  /** Adds an HTTP/1.1 route (exact path, query string ignored); replaces one with the same method and path. `head`: ExtraRoute.head. */
  addRoute(method: string, path: string, handler: RouteHandler, head?: boolean): void;
  /** Stops serving; with drainMs, first waits (at most that long) for requests in flight to be answered. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

/** Connect's JSON options; its JSON serialization also takes the text decoder, which the public type omits. */
type JsonOptions = { ignoreUnknownFields: boolean; alwaysEmitImplicit: boolean };

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const limits = resolveLimits(opts.limits);
  const core = new ApiCore(opts.backend, limits, (err) =>
    opts.logger?.error({ err }, 'client API request failed with an internal error'),
  );
  core.auth = opts.auth;
  const connectOptions = {
    routes: (router: Parameters<ReturnType<typeof kvRoutes>>[0]) => {
      kvRoutes(core)(router);
      if (opts.cluster !== undefined) router.service(Cluster, clusterService(core, opts.cluster));
      if (opts.auth !== undefined && opts.authBackend !== undefined)
        router.service(Auth, authService(core, opts.auth, opts.authBackend));
    },
    // A misspelled field or enum must be invalid_argument, not silently the zero value (Connect
    // ignores unknown JSON fields by default).
    // Answers always carry every field (found:false, value:"") so that JSON users need no defaults table.
    // The text decoder refuses bodies that are not UTF-8 or nest too deep before JSON.parse (json-guard.ts).
    jsonOptions: {
      ignoreUnknownFields: false,
      alwaysEmitImplicit: true,
      textDecoder: guardedJsonDecoder(limits.maxJsonDepth),
    } as JsonOptions,
    readMaxBytes: limits.maxRequestBytes,
    // Answers are never compressed: a LAN key-value store spends less on bytes than on gzip, and
    // the fast path can then answer byte-for-byte like Connect. Compressed requests are accepted
    // (gzip, br; decompressed at most to maxRequestBytes): Connect's router accepts none unless
    // told, and every call of a gRPC client set to compress was refused as unimplemented.
    acceptCompression: [compressionGzip, compressionBrotli] as Compression[],
    compressMinBytes: Number.MAX_SAFE_INTEGER,
  } as const;
  const unsent = new UnsentAnswers(limits);
  const fast = opts.fastPath === false ? undefined : new FastPath(core, connectOptions, unsent);
  const rpc = createRpcDispatch({
    limits,
    admission: core.admission,
    connectOptions,
    unsent,
    ...(fast === undefined ? {} : { fast }),
  });
  const routes = new Map<string, RouteHandler>();
  /** Per route path, its methods: another method on it is answered 405 with Allow, like the API's paths. */
  const routeMethods = new Map<string, string[]>();
  const addRoute = (method: string, path: string, handler: RouteHandler, head = true): void => {
    const m = method.toUpperCase();
    const ms = m === 'GET' && head ? [m, 'HEAD'] : [m];
    const methods = routeMethods.get(path) ?? [];
    for (const x of ms) {
      routes.set(`${x} ${path}`, handler);
      if (!methods.includes(x)) methods.push(x);
    }
    routeMethods.set(path, methods);
  };
  addRoute('GET', SSE_PATH, sseHandler(opts.backend, limits, opts.auth), false);
  for (const r of opts.extraRoutes ?? []) addRoute(r.method, r.path, r.handler, r.head);

  // The extra routes (dashboard, /metrics, /health, SSE watch) on both protocols: over TLS, browsers
  // and curl choose HTTP/2 by ALPN. Route handlers use the subset of the API both request types share.
  const turns = new ReadTurns(limits.requestsPerSourcePerTurn);
  const hosts = opts.allowedHosts === undefined ? undefined : hostCheck(opts.allowedHosts, logForeignHost(opts.logger));
  const dispatch = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    // On every answer of this port, errors included (session 12 audit): the client port serves key
    // data, tokens and backups, none of which a browser should sniff into another type or a cache
    // keep. Routes that want otherwise (the dashboard's assets: no-cache) set their own.
    for (const [k, v] of PORT_HEADERS) res.setHeader(k, v);
    if (
      refuseTooManyHeaders(req, res) ||
      refuseRepeatedHost(req, res) ||
      hosts?.refuse(req, res) === true ||
      unsent.admit(req, res)
    )
      return;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = routes.get(`${req.method ?? ''} ${path}`);
    if (route !== undefined) {
      unsent.track(req, res);
      return route(req as IncomingMessage, res as ServerResponse);
    }
    const allowed = routeMethods.get(path);
    if (allowed !== undefined) {
      return writeJsonError(
        res,
        405,
        'unimplemented',
        `method ${req.method ?? ''} is not allowed on ${path}; use ${allowed.join(' or ')}`,
        { allow: allowed.join(', ') },
      );
    }
    rpc(req, res);
  };
  // Every request counts against its source's turn when it is read (read-turns.ts); HTTP/2 ones are
  // handled once the read that brought them is done, so that a stream reset in the same read costs
  // nothing more (http-guards.ts, afterTheRead).
  const http1 = createHttp1Server(
    { connectionsCheckingInterval: checkingIntervalMs(limits.headersTimeoutMs) },
    (req, res) => {
      turns.charge(req.socket.remoteAddress ?? '');
      dispatch(req, res);
    },
  );
  http1.keepAliveTimeout = limits.idleTimeoutMs;
  enforceHttp1Timeouts(http1, limits.headersTimeoutMs, limits.requestReceiveTimeoutMs);
  keepEveryHeaderField(http1);
  const h2Deferred = afterTheRead(dispatch);
  const http2Options = {
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
    maxHeaderListPairs: HTTP2_MAX_HEADER_LIST_PAIRS,
  };
  const http2 = createHttp2Server(http2Options, (req, res) => {
    turns.charge(req.socket?.remoteAddress ?? '');
    h2Deferred.handle(req, res);
  });
  // An HTTP/2 connection idle this long is closed gracefully (GOAWAY); clients reconnect.
  http2.on('session', (session) => session.setTimeout(limits.idleTimeoutMs, () => session.close()));
  limitStreamResets(http2, limits.maxStreamResetsPerSec);
  const frontEnd = createFrontEnd({
    http1,
    http2,
    // Every client speaks first (a request, or the HTTP/2 preface), so silence is bounded like headers.
    firstBytesTimeoutMs: Math.min(limits.idleTimeoutMs, limits.headersTimeoutMs),
    maxConnections: limits.maxConnections,
    maxConnectionsPerSource: limits.maxConnectionsPerSource,
    maxNewConnectionsPerSec: limits.maxNewConnectionsPerSec,
    maxNewConnectionsPerSourcePerSec: limits.maxNewConnectionsPerSourcePerSec,
    turns,
    ...(fast === undefined || opts.http1Framing === false || opts.tls !== undefined
      ? {}
      : { http1Framing: http1Framing({ http1, core, fast, turns, unsent, hosts }) }),
    ...(opts.tls === undefined ? {} : { tls: opts.tls }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const { server: front, close: closeFront } = frontEnd;
  // A failure to listen (a port in use) is the caller's error ("could not start"), not logged here too.
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(opts.port, opts.host, () => {
      front.off('error', reject);
      resolve();
    });
  });
  front.on('error', (err) => opts.logger?.error({ err }, 'client API listener error'));
  const port = (front.address() as AddressInfo).port;
  opts.logger?.info(
    { host: opts.host, port, tls: opts.tls !== undefined },
    `client API listening (gRPC, Connect, HTTP/JSON${opts.tls === undefined ? '; plaintext' : ' over TLS'})`,
  );

  let closing: Promise<void> | undefined;
  const close = (o: { drainMs?: number } = {}): Promise<void> =>
    (closing ??= (async () => {
      http1.close();
      http2.close();
      // Bounded wait for requests being answered (their answers written) before connections are cut.
      const until = performance.now() + (o.drainMs ?? 0);
      while (core.inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
      if (o.drainMs !== undefined) await new Promise((r) => setTimeout(r, 20));
      await closeFront();
      unsent.close();
    })());
  return {
    port,
    core,
    fastPath: fast,
    connections: frontEnd.stats,
    readTurns: turns.stats,
    unsentAnswers: unsent,
    resetBeforeHandling: () => h2Deferred.dropped,
    addRoute,
    close,
  };
}

/** One warning per Host value per minute: what an operator needs to see a client refused by name (or an attack). */
function logForeignHost(logger: ApiLogger | undefined): ((host: string) => void) | undefined {
  if (logger === undefined) return undefined;
  const log = new LimitedLog(logger, 60_000);
  return (host) =>
    log.warn(
      `host ${host.slice(0, 256)}`,
      { host: host.slice(0, 256) },
      'refused a request for a Host that is not a name of this node (DNS rebinding? else add it with --allowed-hosts)',
    );
}
