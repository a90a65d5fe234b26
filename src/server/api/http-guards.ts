// Protocol-level guards of the two HTTP servers behind the front end (issue 13).
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import {
  constants as h2,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { grpcMessageHeader } from './errors.ts';
import { writeJsonError } from './rpc.ts';

/**
 * HTTP/1.1 header and request timeouts. Node enforces headersTimeout and requestTimeout from a timer
 * (connectionsCheckingInterval) that it starts only when the server starts listening; this server
 * never listens (the front end hands it sockets), so the checks never ran and a half-sent request
 * stayed open for ever. Emitting 'listening' runs Node's own set-up of those checks (the connection
 * list and the interval): a stalled request gets Node's 408 and its connection is closed.
 * hostile-front.test.ts checks this through a real socket.
 */
export function enforceHttp1Timeouts(
  http1: HttpServer,
  headersTimeoutMs: number,
  requestReceiveTimeoutMs: number,
): void {
  http1.headersTimeout = headersTimeoutMs;
  http1.requestTimeout = requestReceiveTimeoutMs;
  http1.emit('listening');
}

/** How often the HTTP/1.1 timeouts are checked: a fraction of the headers timeout. */
export function checkingIntervalMs(headersTimeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(headersTimeoutMs / 4)));
}

/**
 * HTTP/2 "rapid reset" (CVE-2023-44487): a client opening streams and resetting them at once makes
 * the server set up each stream for nothing. A session whose streams end abnormally (reset, by
 * either side) more than maxResetsPerSec times within one second gets GOAWAY (ENHANCE_YOUR_CALM)
 * and is closed.
 */
export function limitStreamResets(
  http2: Http2Server,
  maxResetsPerSec: number,
  nowMs: () => number = () => performance.now(),
): void {
  http2.on('session', (session: ServerHttp2Session) => {
    let windowStartMs = nowMs();
    let resets = 0;
    let closing = false;
    session.on('stream', (stream) => {
      stream.once('close', () => {
        if (stream.rstCode === h2.NGHTTP2_NO_ERROR || session.destroyed) return;
        const now = nowMs();
        if (now - windowStartMs >= 1000) {
          windowStartMs = now;
          resets = 0;
        }
        if (++resets > maxResetsPerSec && !closing) {
          closing = true;
          // Not from here: this 'close' runs inside nghttp2's processing of the read that reset the
          // stream, and destroying the session there makes Node abort the whole process on its
          // nghttp2 memory accounting (a native assertion, seen under a rapid-reset burst).
          setImmediate(() => {
            // The error is only for the session's 'error' event (ignored); the code goes in the GOAWAY.
            session.on('error', () => undefined);
            session.destroy(
              new Error(`more than ${maxResetsPerSec} stream resets in a second`),
              h2.NGHTTP2_ENHANCE_YOUR_CALM,
            );
          });
        }
      });
    });
  });
}

/** An HTTP/2 request handler run after the read that brought the request (afterTheRead). */
export interface DeferredHandler {
  handle(req: Http2ServerRequest, res: Http2ServerResponse): void;
  /** Requests dropped because their stream had closed (reset) by then. */
  readonly dropped: number;
}

/**
 * HTTP/2 rapid reset, the rest of its cost: nghttp2 hands over a stream's HEADERS before it parses
 * the RST_STREAM that follows in the same read, so a handler started at once did a whole request's
 * work (Connect's handler, the body read, the abort and its error) for a stream the client had
 * already reset — most of the CPU a burst of 3,000 HEADERS+RST_STREAM cost (a CPU profile of it).
 * So requests are handled once the read is done: queued, and run in the check phase (setImmediate)
 * that follows the poll phase in the same turn of the loop, in arrival order; a request whose stream
 * has closed by then is dropped without any work. A request waits no extra turn for this.
 */
export function afterTheRead(handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void): DeferredHandler {
  let queue: [Http2ServerRequest, Http2ServerResponse][] = [];
  let dropped = 0;
  const run = (): void => {
    const batch = queue;
    queue = [];
    for (const [req, res] of batch) {
      if (req.stream.closed || req.stream.destroyed) dropped++;
      else handler(req, res);
    }
  };
  return {
    handle(req, res) {
      if (queue.push([req, res]) === 1) setImmediate(run);
    },
    get dropped() {
      return dropped;
    },
  };
}

/**
 * Most header fields a request may carry (HTTP/2 pseudo-headers such as `:path` not counted); a
 * request with more is refused with 431 and a message (gRPC: RESOURCE_EXHAUSTED in a trailers-only
 * answer), never read with some of its headers missing. 128 is Node's own HTTP/2 default
 * (maxHeaderListPairs), ten times what a browser or gRPC client sends.
 */
export const MAX_REQUEST_HEADER_FIELDS = 128;

/**
 * HTTP/2: header pairs (pseudo-headers included) past which nghttp2 resets the stream itself
 * (RST_STREAM ENHANCE_YOUR_CALM) before any handler runs, without a message. Above
 * MAX_REQUEST_HEADER_FIELDS so that the usual excess is answered with one; it bounds the header
 * work of one stream (Node's maxHeaderListSize is not enforced on the count).
 */
export const HTTP2_MAX_HEADER_LIST_PAIRS = 1024;

/**
 * HTTP/1.1: Node's parser keeps the first 1,000 header fields of a request (maxHeadersCount) and
 * silently drops the rest, so a request whose content-type came after them was misread as having
 * none (415 `""`), and any header past them (authorization, a deadline) was lost. With the count
 * limit off, Node keeps every field (their bytes stay bounded by maxHeaderSize, 16 KiB, past which
 * Node answers 431 itself) and refuseTooManyHeaders refuses the request whole.
 */
export function keepEveryHeaderField(http1: HttpServer): void {
  http1.maxHeadersCount = 0;
}

/** The number of header fields of a request, HTTP/2 pseudo-headers not counted. */
export function headerFieldCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (!rawHeaders[i]!.startsWith(':')) n++;
  return n;
}

/**
 * Answers a request with more than MAX_REQUEST_HEADER_FIELDS header fields, before any routing;
 * true if it did. HTTP/1.1: 431 and the connection is closed (a client sending that many is not
 * one to keep). gRPC and gRPC-Web: status RESOURCE_EXHAUSTED (8) in a trailers-only answer, which
 * their clients read; everything else: 431 with a Connect-style JSON error.
 */
/**
 * Answers a request with more than one Host field line, before any routing; true if it did. RFC 9112
 * §3.2: a server MUST answer 400 to such a request. Node keeps the first and drops the others, so
 * this port (host-check.ts) and a proxy in front that reads the last could each judge another name:
 * the request is refused whole, like any other malformed head (HTTP/1.1: the connection is closed).
 */
export function refuseRepeatedHost(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): boolean {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts <= 1) return false;
  refuseHead(
    req,
    res,
    400,
    'invalid_argument',
    '3',
    `the request has ${hosts} Host header fields; at most one is allowed`,
  );
  return true;
}

/** A refusal before routing: gRPC(-Web) status in a trailers-only answer, else a Connect-style JSON error. */
function refuseHead(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  httpStatus: number,
  code: string,
  grpcStatus: string,
  message: string,
): void {
  const ct = req.headers['content-type'];
  if (typeof ct === 'string' && /^application\/grpc/i.test(ct)) {
    const status = { 'content-type': ct, 'grpc-status': grpcStatus, 'grpc-message': grpcMessageHeader(message) };
    if ('stream' in req) req.stream.respond({ ':status': 200, ...status }, { endStream: true });
    else (res as ServerResponse).writeHead(200, { connection: 'close', ...status }).end();
    return;
  }
  writeJsonError(res, httpStatus, code, message, 'stream' in req ? {} : { connection: 'close' });
}

export function refuseTooManyHeaders(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): boolean {
  if (req.rawHeaders.length <= 2 * MAX_REQUEST_HEADER_FIELDS) return false;
  const count = headerFieldCount(req.rawHeaders);
  if (count <= MAX_REQUEST_HEADER_FIELDS) return false;
  const message = `the request has ${count} header fields; the limit is ${MAX_REQUEST_HEADER_FIELDS}`;
  refuseHead(req, res, 431, 'resource_exhausted', '8', message);
  return true;
}
