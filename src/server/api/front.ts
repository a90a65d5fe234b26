// One client port for every protocol: a net.Server peeks at the first bytes of each connection and
// hands it to the HTTP/2 server (gRPC, Connect over h2c) when they are the HTTP/2 preface, else to
// the HTTP/1.1 server (Connect JSON, curl, the dashboard). Node cannot do this by an option without
// TLS (http2.createServer's allowHTTP1 needs ALPN, so TLS). The bytes are read with 'readable'/read() and put back with unshift():
// using 'data' + resume() would lose them.
//
// Connections are admitted here, before any parsing (issue 13): at most maxConnections open, at most
// maxConnectionsPerSource from one IP address, and at most so many new ones per second, per node and
// per source. An excess connection is reset at once (no handshake work, no TIME_WAIT on our side).
import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { LimitedLog } from '../../util/log-limit.ts';
import type { ReadTurns } from './read-turns.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The client port's certificate (chain), key, and the CA client certificates are verified against (PEM). */
export interface ClientTlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
}

/** TLS on the client port (issue 15). `current()` is read for each new connection (a reload returns a new object). */
export interface FrontEndTls {
  current(): ClientTlsMaterial;
}

/** The subset of a logger the front end uses. */
export interface FrontEndLogger {
  warn(obj: object, msg: string): void;
}

export interface FrontEndOptions {
  readonly http1: HttpServer;
  readonly http2: Http2Server;
  /** A connection that sends nothing for this long before it is handed over is closed. */
  readonly firstBytesTimeoutMs: number;
  /** Most connections open at once. */
  readonly maxConnections: number;
  /** Most connections open at once from one source address. */
  readonly maxConnectionsPerSource: number;
  /** Most new connections accepted per second, in all and from one source address. */
  readonly maxNewConnectionsPerSec: number;
  readonly maxNewConnectionsPerSourcePerSec: number;
  /** Monotonic clock (ms), for the per-second windows. */
  readonly nowMs?: () => number;
  /** Absent: plaintext (serve --insecure). */
  readonly tls?: FrontEndTls;
  /** Told of every admitted connection and its source, so that a source over its turn can be paused. */
  readonly turns?: ReadTurns;
  /** TLS failures and plaintext on a TLS port: one line per source and cause per minute. */
  readonly logger?: FrontEndLogger;
  /** Plaintext HTTP/1.1 connections go here first, with the bytes read so far (framing.ts); absent: to http1. */
  readonly http1Framing?: (socket: Socket, first: Buffer) => void;
}

export interface FrontEndStats {
  /** Connections reset on arrival because a cap was reached. */
  refusedConnections: number;
}

export interface FrontEnd {
  readonly server: Server;
  readonly stats: FrontEndStats;
  /** Stops listening and destroys every open connection (the http servers never listened, so they do not track them). */
  close(): Promise<void>;
}

export function createFrontEnd(opts: FrontEndOptions): FrontEnd {
  const sockets = new Set<Socket>();
  const openBySource = new Map<string, number>();
  const nowMs = opts.nowMs ?? (() => performance.now());
  const stats: FrontEndStats = { refusedConnections: 0 };
  const tls = opts.tls === undefined ? undefined : tlsFront(opts, opts.tls);
  // New connections in the current one-second window. The map holds at most maxNewConnectionsPerSec
  // sources (only admitted connections are counted) and is cleared every window.
  let windowStartMs = nowMs();
  let newInWindow = 0;
  const newBySource = new Map<string, number>();
  // Half-open: an HTTP/1.1 client may send its request and then close its side (shutdown(SHUT_WR),
  // `nc -N`, a pipe into a socket). Node's default ends our side at once on that FIN, so an answer
  // not written in the same turn was lost: every route answered nothing (session 11 audit). With
  // allowHalfOpen here and httpAllowHalfOpen on the HTTP/1.1 server, Node writes the answers still
  // owed and then closes (its http server's own 'half_closed_clients' handling). HTTP/2 and TLS
  // connections get the default back when they are handed over (peek, peekTls).
  (opts.http1 as HttpServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const source = socket.remoteAddress ?? '';
    const now = nowMs();
    if (now - windowStartMs >= 1000) {
      windowStartMs = now;
      newInWindow = 0;
      newBySource.clear();
    }
    const open = openBySource.get(source) ?? 0;
    const recent = newBySource.get(source) ?? 0;
    if (
      sockets.size >= opts.maxConnections ||
      open >= opts.maxConnectionsPerSource ||
      newInWindow >= opts.maxNewConnectionsPerSec ||
      recent >= opts.maxNewConnectionsPerSourcePerSec
    ) {
      stats.refusedConnections++;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    newInWindow++;
    newBySource.set(source, recent + 1);
    openBySource.set(source, open + 1);
    sockets.add(socket);
    opts.turns?.add(source, socket);
    socket.once('close', () => {
      sockets.delete(socket);
      opts.turns?.remove(source, socket);
      const left = (openBySource.get(source) ?? 1) - 1;
      if (left <= 0) openBySource.delete(source);
      else openBySource.set(source, left);
    });
    if (tls === undefined) peek(socket, opts);
    else peekTls(socket, opts, tls);
  });
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return { server, stats, close };
}

function peek(socket: Socket, opts: FrontEndOptions): void {
  let seen: Buffer = Buffer.alloc(0);
  socket.setTimeout(opts.firstBytesTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  // Half-open until handed over: a client that closes before a whole first request is gone.
  const onEnd = (): void => void socket.destroy();
  socket.once('end', onEnd);
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null)
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (seen.length === 0) return;
    // Still a prefix of the preface: wait for more bytes before deciding.
    if (seen.length < PREFACE.length && PREFACE.subarray(0, seen.length).equals(seen)) return;
    socket.off('readable', onReadable).off('end', onEnd);
    socket.setTimeout(0);
    const isHttp2 = seen.length >= PREFACE.length && seen.subarray(0, PREFACE.length).equals(PREFACE);
    if (!isHttp2 && opts.http1Framing !== undefined) return opts.http1Framing(socket, seen);
    socket.unshift(seen);
    if (isHttp2) socket.allowHalfOpen = false;
    (isHttp2 ? opts.http2 : opts.http1).emit('connection', socket);
  };
  socket.on('readable', onReadable);
}

/** The first byte of a TLS record carrying a handshake (ClientHello); never the first byte of an HTTP request. */
const TLS_HANDSHAKE_BYTE = 0x16;
const LOG_INTERVAL_MS = 60_000;

interface TlsFront {
  /** The TLS server connections are handed to (it never listens): its context follows the material in force. */
  server(): TlsServer;
  readonly log: LimitedLog;
}

function tlsFront(opts: FrontEndOptions, tls: FrontEndTls): TlsFront {
  const log = new LimitedLog(opts.logger, LOG_INTERVAL_MS);
  let material: ClientTlsMaterial | null = null;
  let server: TlsServer | null = null;
  const contextOf = (m: ClientTlsMaterial) => ({ cert: m.cert, key: m.key, ...(m.ca === null ? {} : { ca: m.ca }) });
  const get = (): TlsServer => {
    const m = tls.current();
    if (server !== null && m === material) return server;
    if (server !== null && material !== null && (m.ca === null) === (material.ca === null)) {
      material = m;
      server.setSecureContext(contextOf(m));
      return server;
    }
    // First use, or a reload that adds or drops the client CA (requestCert is fixed per server).
    material = m;
    server = createTlsServer({
      ...contextOf(m),
      ALPNProtocols: ['h2', 'http/1.1'],
      // With a CA, clients may present a certificate; it is verified here and judged by authentication
      // (client-security.ts), so a client without one is not refused at the handshake.
      requestCert: m.ca !== null,
      rejectUnauthorized: false,
      handshakeTimeout: opts.firstBytesTimeoutMs,
    });
    server.on('secureConnection', (sock: TLSSocket) => {
      (sock.alpnProtocol === 'h2' ? opts.http2 : opts.http1).emit('connection', sock);
    });
    server.on('tlsClientError', (err: Error & { reason?: string }, sock: TLSSocket) => {
      // The socket no longer knows its address here; the cause alone keys the log line.
      const reason = handshakeFailure(err);
      log.warn(`tls ${reason}`, { reason }, 'client TLS handshake failed');
      sock.destroy();
    });
    return server;
  };
  return { server: get, log };
}

/** Why a client's handshake failed, in words: a client that hangs up mid-handshake most often does not trust the node. */
function handshakeFailure(err: Error & { reason?: string; code?: string }): string {
  if (err.code === 'ECONNRESET' || err.message === 'socket hang up')
    return 'the client closed the connection during the handshake (most often: it does not trust the certificate of this node; give it the CA that signed it)';
  return err.reason ?? err.message;
}

/** TLS mode: a ClientHello goes to the TLS server; anything else is told, in its own protocol, to use TLS. */
function peekTls(socket: Socket, opts: FrontEndOptions, tls: TlsFront): void {
  socket.setTimeout(opts.firstBytesTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const onEnd = (): void => void socket.destroy();
  socket.once('end', onEnd);
  const onReadable = (): void => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) return;
    socket.off('readable', onReadable).off('end', onEnd);
    socket.setTimeout(0);
    socket.allowHalfOpen = false; // as before: under TLS, a close_notify ends the connection
    socket.unshift(chunk); // the TLS socket takes the bytes already read as received (node:tls)
    if (chunk[0] === TLS_HANDSHAKE_BYTE) {
      tls.server().emit('connection', socket);
      return;
    }
    const source = socket.remoteAddress ?? '';
    tls.log.warn(
      `${source} plaintext`,
      { remote: source },
      'plaintext connection to the TLS client port: told to use TLS',
    );
    refusePlaintext(socket, chunk);
  };
  socket.on('readable', onReadable);
}

const USE_TLS =
  'this port requires TLS: use https:// (with the CA that signed the node certificates: --cacert for leasekv, or the one `leasekv up` wrote)';

/**
 * Answers a plaintext client in its protocol: HTTP/2 (the preface: gRPC, Connect over h2c) gets
 * SETTINGS and GOAWAY INADEQUATE_SECURITY with the reason as debug data; HTTP/1.1 gets a 400 with a
 * Connect-style JSON error. The rest of what it sends is read and dropped until it closes (closing
 * with unread data would reset the connection before the answer is read).
 */
function refusePlaintext(socket: Socket, first: Buffer): void {
  const h2 = PREFACE.subarray(0, Math.min(first.length, PREFACE.length)).equals(
    first.subarray(0, Math.min(first.length, PREFACE.length)),
  );
  if (h2) {
    const debug = Buffer.from(USE_TLS, 'utf8');
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const goaway = Buffer.alloc(9 + 8 + debug.length);
    goaway.writeUIntBE(8 + debug.length, 0, 3);
    goaway[3] = 7; // GOAWAY
    goaway.writeUInt32BE(0, 9); // last stream id
    goaway.writeUInt32BE(0xc, 13); // INADEQUATE_SECURITY
    debug.copy(goaway, 17);
    socket.end(Buffer.concat([settings, goaway]));
  } else {
    const body = JSON.stringify({ code: 'failed_precondition', message: USE_TLS });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.resume();
  setTimeout(() => socket.destroy(), 2000).unref();
}
