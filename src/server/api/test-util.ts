// Helpers for the API tests: raw HTTP/1.1 requests (what curl sends) and a server over a fake backend.
import { request } from 'node:http';
import { FakeBackend, type FakeBackendOptions } from './fake-backend.ts';
import type { ApiLimits } from './limits.ts';
import { startApiServer, type ApiServer } from './server.ts';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export function post(
  port: number,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  method = 'POST',
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function fakeServer(
  opts: {
    backend?: FakeBackendOptions;
    limits?: Partial<ApiLimits>;
    fastPath?: boolean;
    http1Framing?: boolean;
    allowedHosts?: readonly string[];
  } = {},
): Promise<{ server: ApiServer; backend: FakeBackend; port: number }> {
  const backend = new FakeBackend(opts.backend);
  const server = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    backend,
    ...(opts.limits === undefined ? {} : { limits: opts.limits }),
    ...(opts.fastPath === undefined ? {} : { fastPath: opts.fastPath }),
    ...(opts.http1Framing === undefined ? {} : { http1Framing: opts.http1Framing }),
    ...(opts.allowedHosts === undefined ? {} : { allowedHosts: opts.allowedHosts }),
  });
  return { server, backend, port: server.port };
}
