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

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

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
  // New connections in the current one-second window. The map holds at most maxNewConnectionsPerSec
  // sources (only admitted connections are counted) and is cleared every window.
  let windowStartMs = nowMs();
  let newInWindow = 0;
  const newBySource = new Map<string, number>();
  const server = createServer({ noDelay: true }, (socket) => {
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
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (openBySource.get(source) ?? 1) - 1;
      if (left <= 0) openBySource.delete(source);
      else openBySource.set(source, left);
    });
    peek(socket, opts);
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
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null)
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (seen.length === 0) return;
    // Still a prefix of the preface: wait for more bytes before deciding.
    if (seen.length < PREFACE.length && PREFACE.subarray(0, seen.length).equals(seen)) return;
    socket.off('readable', onReadable);
    socket.setTimeout(0);
    socket.unshift(seen);
    const isHttp2 = seen.length >= PREFACE.length && seen.subarray(0, PREFACE.length).equals(PREFACE);
    (isHttp2 ? opts.http2 : opts.http1).emit('connection', socket);
  };
  socket.on('readable', onReadable);
}
