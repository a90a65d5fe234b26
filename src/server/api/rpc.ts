// Dispatch of RPC requests (HTTP/1.1 and HTTP/2) to Connect's handlers, with the checks that must
// come before any work (issue 13): method (405 with Allow) and content type (415), each with a JSON
// error body like every other error; a declared Content-Length over the limit (refused before the
// body is read, and an HTTP/1.1 connection is closed); the body checks of body-guard.ts; and the
// connection's share of the in-flight budget (with its source address, for the per-source and fair
// shares of admission.ts), passed to the handlers as a context value.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  type Interceptor,
} from '@connectrpc/connect';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import { checkBody, emptyRequest, needsGuard, readBodyBounded, wireOf, type Wire } from './body-guard.ts';
import { CONN_SHARE, type ConnShare } from './core.ts';
import type { Admission } from './admission.ts';
import { CLIENT_SECURITY, clientSecurityOf } from './client-security.ts';
import type { ApiLimits } from './limits.ts';
import { grpcMessageHeader } from './errors.ts';
import { isGrpcContentType, respellGrpcMessages } from './grpc-message.ts';
import { clampTimeoutHeaders } from './timeout-header.ts';

type NodeReq = IncomingMessage | Http2ServerRequest;
type NodeRes = ServerResponse | Http2ServerResponse;

/** A request refused by the body checks; thrown by guardInterceptor once Connect has parsed the stand-in body. */
const GUARD_ERROR = createContextKey<ConnectError | undefined>(undefined, { description: 'leasekv refused body' });

export const guardInterceptor: Interceptor = (next) => async (req) => {
  const err = req.contextValues.get(GUARD_ERROR);
  if (err !== undefined) throw err;
  return next(req);
};

/** Envelope headers a gRPC body adds to the message (a unary request has one). */
const ENVELOPE_SLACK_BYTES = 64;

export interface RpcDispatchOptions {
  readonly limits: ApiLimits;
  readonly connectOptions: ConnectRouterOptions & { readonly routes: (router: ConnectRouter) => void };
  /**
   * The in-flight budget (ApiCore's): a unary request it would refuse is answered resource_exhausted
   * here, before its body is read or Connect sees it, so that shedding one source's excess costs
   * the thread little and other sources' requests do not wait behind it (issue 13).
   */
  readonly admission?: Admission;
  /** Answers not read by their clients (unsent-answers.ts): every answer Connect writes is watched. */
  readonly unsent?: { track(req: NodeReq, res: NodeRes): void };
  /** Tried first for each HTTP/1.1 request: the JSON fast path (fast-path.ts; it watches its own answers). */
  readonly fast?: {
    accepts(req: IncomingMessage, path: string): boolean;
    serve(req: IncomingMessage, res: ServerResponse, path: string, share: ConnShare): void;
  };
}

export type RpcDispatch = (req: NodeReq, res: NodeRes) => void;

export function createRpcDispatch(opts: RpcDispatchOptions): RpcDispatch {
  const router = createConnectRouter({
    ...opts.connectOptions,
    interceptors: [guardInterceptor, ...(opts.connectOptions.interceptors ?? [])],
  });
  opts.connectOptions.routes(router);
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const shares = new WeakMap<object, DispatchShare>();
  const { limits } = opts;
  /** The share of a connection (HTTP/1.1 socket, HTTP/2 session), counted against its source address. */
  const shareOf = (key: object, socket: { remoteAddress?: string | undefined } | undefined): DispatchShare => {
    let share = shares.get(key);
    if (share === undefined)
      shares.set(
        key,
        (share = { inFlight: 0, source: socket?.remoteAddress ?? '', refused: 0, windowStartMs: 0, lastStreamId: 0 }),
      );
    return share;
  };
  const refuseTooLarge = (res: NodeRes, declared: number): void => {
    // Refused before the body arrives; the connection is closed rather than drained.
    res.setHeader('connection', 'close');
    writeJsonError(
      res,
      413,
      'resource_exhausted',
      `request body of ${declared} bytes is larger than the limit of ${limits.maxRequestBytes} bytes`,
    );
  };
  /** Answers resource_exhausted at once if admission would refuse the request; true if it did. */
  const shed = (req: NodeReq, res: NodeRes, share: DispatchShare, wire: Wire | undefined): boolean => {
    const why = opts.admission?.refusal(share) ?? null;
    if (why === null) return false;
    if (wire !== undefined && wire.enveloped && !grpcShed(req, wire)) return false;
    // A connection that keeps sending after more refusals in a second than it may have requests in
    // flight ignores resource_exhausted: it is closed, so that its next requests cost nothing.
    const now = performance.now();
    if (now - share.windowStartMs >= 1000) {
      share.windowStartMs = now;
      share.refused = 0;
    }
    if (++share.refused > limits.maxInFlightPerConnection) closeConnection(req, res, share);
    if (wire !== undefined && wire.enveloped && 'stream' in req) {
      // gRPC: a trailers-only answer (grpc-status 8, RESOURCE_EXHAUSTED).
      req.stream.respond(
        {
          ':status': 200,
          'content-type': req.headers['content-type'] ?? 'application/grpc',
          'grpc-status': '8',
          'grpc-message': grpcMessageHeader(why),
        },
        { endStream: true },
      );
    } else writeJsonError(res, 429, 'resource_exhausted', why);
    opts.admission?.countRefusal();
    return true;
  };
  return (req, res) => {
    // An HTTP/2 stream the client already reset (rapid reset): nothing to answer, so no work at all.
    if ('stream' in req && (req.stream.closed || req.stream.destroyed)) return;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const http1 = !('stream' in req);
    // The hot path first: a plain JSON POST the fast path takes (it checked method and content type).
    if (http1 && opts.fast !== undefined && opts.fast.accepts(req, path)) {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limits.maxRequestBytes) return refuseTooLarge(res, declared);
      const share = shareOf(req.socket, req.socket);
      if (shed(req, res, share, undefined)) return;
      return opts.fast.serve(req, res as ServerResponse, path, share);
    }
    const handler = handlers.get(path);
    if (handler === undefined) {
      return writeJsonError(res, 404, 'unimplemented', `no such method: ${req.method ?? ''} ${url}`);
    }
    const method = req.method ?? '';
    if (!handler.allowedMethods.includes(method)) {
      return writeJsonError(
        res,
        405,
        'unimplemented',
        `method ${method} is not allowed on ${path}; use ${handler.allowedMethods.join(' or ')}`,
        {
          allow: handler.allowedMethods.join(', '),
        },
      );
    }
    const ct = req.headers['content-type'];
    const wire = wireOf(ct);
    if (wire === undefined || !handler.supportedContentType(ct ?? null)) {
      return writeJsonError(
        res,
        415,
        'invalid_argument',
        `content-type ${JSON.stringify(ct ?? '')} is not supported on ${path}; use application/json, application/proto, application/grpc, application/grpc-web or application/connect+json`,
      );
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = declared > limits.maxRequestBytes + (wire.enveloped ? ENVELOPE_SLACK_BYTES : 0);
    if (tooLarge && http1) return refuseTooLarge(res, declared);
    const share = http1
      ? shareOf(req.socket, req.socket)
      : shareOf(req.stream.session ?? req.stream, req.stream.session?.socket ?? req.socket);
    if (!http1) share.lastStreamId = Math.max(share.lastStreamId, req.stream.id ?? 0);
    if (handler.method.methodKind === 'unary' && shed(req, res, share, wire)) return;
    const values = createContextValues().set(CONN_SHARE, share).set(CLIENT_SECURITY, clientSecurityOf(req));
    opts.unsent?.track(req, res);
    if (tooLarge) {
      values.set(
        GUARD_ERROR,
        new ConnectError(
          `request body of ${declared} bytes is larger than the limit of ${limits.maxRequestBytes} bytes`,
          Code.ResourceExhausted,
        ),
      );
      return run(handler, req, res, values, emptyRequest(wire), true);
    }
    if (!needsGuard(wire)) return run(handler, req, res, values, undefined, false);
    readBodyBounded(req, limits.maxRequestBytes + (wire.enveloped ? ENVELOPE_SLACK_BYTES : 0)).then(
      async (body) => {
        const encoding = headerOf(
          req,
          wire.enveloped
            ? ct?.startsWith('application/connect') === true
              ? 'connect-content-encoding'
              : 'grpc-encoding'
            : 'content-encoding',
        );
        const err =
          body === null
            ? new ConnectError(
                `request body is larger than the limit of ${limits.maxRequestBytes} bytes`,
                Code.ResourceExhausted,
              )
            : await checkBody({
                wire,
                body,
                encoding,
                input: handler.method.input,
                maxRequestBytes: limits.maxRequestBytes,
              });
        if (err !== null) {
          values.set(GUARD_ERROR, err);
          if (http1 && body === null) res.setHeader('connection', 'close');
          return run(handler, req, res, values, emptyRequest(wire), true);
        }
        run(handler, req, res, values, body!, false);
      },
      () => destroy(res),
    );
  };
}

function headerOf(req: NodeReq, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v.trim().toLowerCase() : undefined;
}

/** Hands the request to Connect, with `body` instead of the stream when given (`standIn`: a refused body's stand-in). */
function run(
  handler: UniversalHandler,
  req: NodeReq,
  res: NodeRes,
  values: ContextValues,
  body: Buffer | undefined,
  standIn: boolean,
): void {
  const uReq = universalRequestFromNodeRequest(req as IncomingMessage, res as ServerResponse, undefined, values);
  clampTimeoutHeaders(uReq.header);
  if (standIn) {
    uReq.header.delete('content-encoding');
    uReq.header.delete('content-length');
  }
  const withBody =
    body === undefined
      ? uReq
      : {
          ...uReq,
          body: (async function* () {
            yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
          })(),
        };
  if (isGrpcContentType(headerOf(req, 'content-type'))) respellGrpcMessages(res);
  handler(withBody)
    .then((uRes) => universalResponseToNodeResponse(uRes, res as ServerResponse))
    .catch(() => destroy(res));
}

function destroy(res: NodeRes): void {
  if ('stream' in res) res.stream.close();
  else res.destroy();
}

/** An error answered without Connect (404, 405, 413, 415): JSON `{code, message}` like Connect's. */
/** A connection's share with its refusals in the current one-second window. */
interface DispatchShare extends ConnShare {
  refused: number;
  windowStartMs: number;
  /** HTTP/2: the highest stream id dispatched, the GOAWAY's last stream (every one up to it is answered). */
  lastStreamId: number;
}

/**
 * Whether a refused enveloped request can be answered here: gRPC over HTTP/2 (a trailers-only
 * answer). gRPC-Web and Connect streaming carry their status in the body: Connect refuses those
 * itself (core.ts).
 */
function grpcShed(req: NodeReq, wire: Wire): boolean {
  return 'stream' in req && !wire.base64 && /^application\/grpc(\+|;|$)/i.test(req.headers['content-type'] ?? '');
}

/**
 * HTTP/1.1: the answer says `connection: close`. HTTP/2: GOAWAY naming the last stream dispatched,
 * then the session closes once its open streams are answered; later streams are refused by nghttp2
 * itself. NO_ERROR, not ENHANCE_YOUR_CALM: Node's client (and others) drop every open stream on a
 * GOAWAY with an error code, and the admitted requests must still get their answers. Deferred:
 * this runs inside nghttp2's processing of the read (see http-guards.ts, limitStreamResets).
 */
function closeConnection(req: NodeReq, res: NodeRes, share: DispatchShare): void {
  if (!('stream' in req)) {
    (res as ServerResponse).setHeader('connection', 'close');
    return;
  }
  const session = req.stream.session;
  if (session === undefined || session.closed || session.destroyed) return;
  setImmediate(() => {
    if (session.closed || session.destroyed) return;
    session.goaway(h2constants.NGHTTP2_NO_ERROR, share.lastStreamId);
    session.close();
  });
}

export function writeJsonError(
  res: NodeRes,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ code, message });
  const r = res as ServerResponse;
  if (r.headersSent) return;
  r.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  r.end(body);
}
