// HTTP/1.1 keep-alive JSON transport to the nodes' Connect JSON routes (and the server's fast path).
// One Agent per client: connections are reused across requests, never one per request. Over TLS
// (issue 15) the same with node:https: the nodes' certificates are verified against `ca` (Node's
// roots without it) and `cert`/`key` are presented to a node that asks for a client certificate.
import { Agent, request, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TlsAgent } from './tls-agent.ts';
import { AnswerTooLargeError, CertificateError, UnavailableError, setOutcomeUnknown } from './errors.ts';

/** TLS to the nodes: the CA their certificates are verified against, and a client certificate (PEM). */
export interface ClientTlsOptions {
  /** CA certificates (PEM) that signed the nodes' certificates; default: Node's built-in roots. */
  readonly ca?: string | Buffer;
  /** A client certificate (PEM) and its key, for nodes that authenticate clients by certificate. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** One HTTP(S) request, with the client's TLS settings when it has them. */
export type Requester = (opts: RequestOptions, onResponse: (res: IncomingMessage) => void) => ClientRequest;

export function requester(tls: ClientTlsOptions | null): Requester {
  if (tls === null) return (opts, cb) => request(opts, cb);
  const extra = tlsOptions(tls);
  return (opts, cb) => httpsRequest({ ...extra, ...opts }, cb);
}

function tlsOptions(tls: ClientTlsOptions): ClientTlsOptions {
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  header(name: string): string | undefined;
}

export interface TransportOptions {
  /** Connections kept per endpoint (requests beyond it queue in the agent). */
  readonly maxSocketsPerEndpoint: number;
  /** null: plain http. */
  readonly tls?: ClientTlsOptions | null;
  /** Largest answer read; a longer one fails with AnswerTooLargeError (default: no limit). */
  readonly maxResponseBytes?: number;
}

export class JsonTransport {
  readonly #agent: Agent;
  readonly #request: Requester;
  readonly #maxResponseBytes: number;

  constructor(opts: TransportOptions) {
    // lifo: reuse the warmest socket; idle sockets closed well before the server's idle timeout.
    const agentOptions = {
      keepAlive: true,
      maxSockets: opts.maxSocketsPerEndpoint,
      scheduling: 'lifo',
      timeout: 60_000,
    } as const;
    const tls = opts.tls ?? null;
    // Over TLS the settings are the agent's (tls-agent.ts), so requests carry none of their own.
    this.#agent = tls === null ? new Agent(agentOptions) : new TlsAgent({ ...agentOptions, ...tlsOptions(tls) });
    this.#request = tls === null ? request : httpsRequest;
    this.#maxResponseBytes = opts.maxResponseBytes ?? Number.POSITIVE_INFINITY;
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
    if (signal?.aborted === true)
      return Promise.reject(new UnavailableError(`${endpoint}: canceled before it was sent`, endpoint, false));
    return new Promise<Answer>((resolve, reject) => {
      let done = false;
      // Removed when the request ends: a signal that outlives many requests (an app's shutdown
      // signal, a keep-alive loop's) must not collect one listener per request.
      const onAbort = (): void => fail('canceled', true);
      const settle = (): void => {
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      /** `maybeSent`: the request may have reached the node, so a write's outcome is unknown. */
      const fail = (msg: string, maybeSent: boolean, err?: Error): void => {
        if (done) return;
        settle();
        req.destroy();
        reject(err ?? new UnavailableError(`${endpoint}: ${msg}`, endpoint, maybeSent));
      };
      const req = this.#request(
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
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes <= this.#maxResponseBytes) chunks.push(c);
            else {
              const err = new AnswerTooLargeError(
                `${endpoint}: an answer of more than maxResponseBytes (${this.#maxResponseBytes}) bytes was dropped ` +
                  `(raise maxResponseBytes to the cluster's --max-response-bytes, or read in pages: scan())`,
                0,
                endpoint,
              );
              // The member answered, unread: a write's outcome is unknown.
              setOutcomeUnknown(err, true);
              fail('', true, err);
            }
          });
          res.on('error', (e) => fail(e.message, true));
          res.on('end', () => {
            if (done) return;
            settle();
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
      req.on('error', (e: NodeJS.ErrnoException) => {
        // Refused in the handshake: nothing was sent, and retrying will not change the certificate.
        if (isCertificateRefusal(e)) fail('', false, new CertificateError(`${endpoint}: ${describe(e)}`, endpoint));
        else fail(describe(e), !NOT_SENT.has(e.code ?? ''));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
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

/** A connection error's message, saying what it means when TLS met a plaintext port. */
export function describe(e: NodeJS.ErrnoException): string {
  const m = /wrong version number|packet length too long/.exec(e.message);
  if (m !== null)
    return `TLS handshake failed (${m[0]}): the node does not speak TLS on this port (a node started with --insecure? use http://)`;
  if (CERT_REFUSED.has(e.code ?? ''))
    return `TLS: the node's certificate was refused (${e.code}: ${e.message}): is tls.ca (the CLI's --cacert) the CA that signed the nodes' certificates?`;
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `TLS: the node's certificate does not name the endpoint's host (${e.message})`;
  return e.message;
}

/** The node's certificate does not verify against the CA given, or does not name its host. */
export function isCertificateRefusal(e: NodeJS.ErrnoException): boolean {
  return CERT_REFUSED.has(e.code ?? '') || e.code === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

/** Codes of a node certificate that does not verify against the CA given (or Node's roots). */
const CERT_REFUSED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

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
