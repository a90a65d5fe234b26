// HTTP/1.1 keep-alive JSON transport to the nodes' Connect JSON routes (and the server's fast path).
// One node:http Agent per client: connections are reused across requests, never one per request.
import { Agent, request } from 'node:http';
import { UnavailableError } from './errors.ts';

export interface Answer {
  readonly status: number;
  readonly body: string;
  header(name: string): string | undefined;
}

export interface TransportOptions {
  /** Connections kept per endpoint (requests beyond it queue in the agent). */
  readonly maxSocketsPerEndpoint: number;
}

export class JsonTransport {
  readonly #agent: Agent;

  constructor(opts: TransportOptions) {
    // lifo: reuse the warmest socket; idle sockets closed well before the server's idle timeout.
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: opts.maxSocketsPerEndpoint,
      scheduling: 'lifo',
      timeout: 60_000,
    });
  }

  /** POSTs JSON to http://endpoint/path. Rejects with UnavailableError on connection failure or timeout. */
  /** `authorization`: the header value (a bearer token; issue 15), if any. */
  post(
    endpoint: string,
    path: string,
    json: string,
    timeoutMs: number,
    signal?: AbortSignal,
    authorization?: string,
  ): Promise<Answer> {
    const { host, port } = splitHostPort(endpoint);
    const body = Buffer.from(json, 'utf8');
    return new Promise<Answer>((resolve, reject) => {
      let done = false;
      /** `maybeSent`: the request may have reached the node, so a write's outcome is unknown. */
      const fail = (msg: string, maybeSent: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        reject(new UnavailableError(`${endpoint}: ${msg}`, endpoint, maybeSent));
      };
      const req = request(
        {
          host,
          port,
          method: 'POST',
          path,
          agent: this.#agent,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            // The server stops working on the request when we stop waiting (Connect protocol header).
            'connect-timeout-ms': String(Math.max(1, Math.floor(timeoutMs))),
            ...(authorization === undefined ? {} : { authorization }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => fail(e.message, true));
          res.on('end', () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
            const headers = res.headers;
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              header: (name) => {
                const v = headers[name];
                return Array.isArray(v) ? v[0] : v;
              },
            });
          });
        },
      );
      // Give the server a moment past its own deadline to answer deadline_exceeded itself.
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`, true), timeoutMs + 50);
      req.on('error', (e: NodeJS.ErrnoException) => fail(e.message, !NOT_SENT.has(e.code ?? '')));
      signal?.addEventListener('abort', () => fail('canceled', true), { once: true });
      req.end(body);
    });
  }

  /** Destroys every connection (in-flight requests fail); resolves once each socket has closed. */
  async close(): Promise<void> {
    const sockets = [...Object.values(this.#agent.sockets), ...Object.values(this.#agent.freeSockets)].flatMap(
      (list) => list ?? [],
    );
    this.#agent.destroy();
    await Promise.all(
      sockets.map((s) => (s.closed ? undefined : new Promise<void>((resolve) => s.once('close', () => resolve())))),
    );
  }
}

/** Connection errors that mean the request never left this machine. */
const NOT_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export function splitHostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`endpoint '${endpoint}' is not host:port`);
  }
  let host = endpoint.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port };
}
