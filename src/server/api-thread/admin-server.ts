// The node thread's side of the extra routes (forward.ts): a private HTTP server on a Unix socket
// in a fresh folder only this user can enter (a named pipe on Windows).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ExtraRoute, RouteHandler } from '../api/server.ts';
import { writeJsonError } from './forward.ts';
import { ADMIN_DIR_PREFIX, sweepStaleAdminDirs } from './stale-sockets.ts';

export interface AdminServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** Node thread: serves the extra routes on a fresh private socket path. */
export async function startAdminServer(routes: readonly ExtraRoute[]): Promise<AdminServer> {
  const table = new Map<string, RouteHandler>(routes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r.handler]));
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const handler = table.get(`${req.method ?? ''} ${q < 0 ? url : url.slice(0, q)}`);
    if (handler === undefined) return writeJsonError(res, 404, 'unimplemented', `no such route: ${url}`);
    handler(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let dir: string | null = null;
  let socketPath: string;
  if (process.platform === 'win32') {
    socketPath = `\\\\.\\pipe\\leasekv-${process.pid}-${randomBytes(8).toString('hex')}`;
  } else {
    // A fresh folder only this user can enter (mkdtemp makes it 0700): nobody else reaches the socket.
    dir = mkdtempSync(join(tmpdir(), ADMIN_DIR_PREFIX));
    socketPath = join(dir, 'admin.sock');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // In the background: the folders of nodes killed earlier (stale-sockets.ts).
  if (dir !== null) void sweepStaleAdminDirs(tmpdir(), Date.now());
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          if (dir !== null) rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        for (const s of sockets) s.destroy();
      }),
  };
}
