// A plain HTTP/1.1 GET to a node's client port, for the routes outside the RPC API (/health,
// /snapshot). node:http rather than fetch: fetch refuses the "bad ports" of the Fetch standard
// (6000, 6665–6669, ...), which are fine ports for a leasekv node.
import type { IncomingMessage } from 'node:http';
import { requester, type ClientTlsOptions } from '../../client/transport.ts';

/** Resolves with the response once its headers arrive, or rejects (a timeout says so) within `headerTimeoutMs`. */
export function httpGet(
  endpoint: string,
  path: string,
  headerTimeoutMs: number,
  headers: Record<string, string> = {},
  tls: ClientTlsOptions | null = null,
): Promise<IncomingMessage> {
  const request = requester(tls);
  const colon = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(endpoint.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', agent: false, headers }, () => undefined);
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${headerTimeoutMs} ms`)), headerTimeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code ?? e.message));
    });
    req.end();
  });
}

/** The whole body as text (bounded: these answers are small). */
export async function readText(res: IncomingMessage, maxBytes = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > maxBytes) {
      res.destroy();
      throw new Error(`answer larger than ${maxBytes} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
