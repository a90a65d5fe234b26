// One client port for every protocol: a net.Server peeks at the first bytes of each connection and
// hands it to the HTTP/2 server (gRPC, Connect over h2c) when they are the HTTP/2 preface, else to
// the HTTP/1.1 server (Connect JSON, curl, the dashboard). Node cannot do this by an option without
// TLS (toolchain-notes.md). The bytes are read with 'readable'/read() and put back with unshift():
// using 'data' + resume() would lose them.
import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface FrontEndOptions {
  readonly http1: HttpServer;
  readonly http2: Http2Server;
  /** A connection that sends nothing for this long before it is handed over is closed. */
  readonly idleTimeoutMs: number;
  /** Most connections open at once; more are refused (the OS backlog still queues a few). */
  readonly maxConnections: number;
}

export interface FrontEnd {
  readonly server: Server;
  /** Stops listening and destroys every open connection (the http servers never listened, so they do not track them). */
  close(): Promise<void>;
}

export function createFrontEnd(opts: FrontEndOptions): FrontEnd {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    peek(socket, opts);
  });
  server.maxConnections = opts.maxConnections;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return { server, close };
}

function peek(socket: Socket, opts: FrontEndOptions): void {
  let seen: Buffer = Buffer.alloc(0);
  socket.setTimeout(opts.idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
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
