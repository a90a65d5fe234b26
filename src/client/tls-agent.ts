// The keep-alive HTTPS agent of the client library (and of the benchmark's load generator, which
// stands for it): one set of TLS options per agent, given to the constructor (issue 15). Two things
// node:https's own Agent gets wrong for a client that sends many small requests over TLS (Node 20):
//
// - It names each connection pool by the host and port and by every TLS option of the request — the
//   CA, certificate and key PEM included — building and hashing that 0.5–3 KB string three times per
//   request (when the request is added, and when its socket is freed and removed): ~3 µs each on the
//   2-core bench machine, a third of what TLS costs the client per small request (docs/benchmarks.md,
//   "TLS and auth: off beside on"). Here the TLS options are the agent's, the same for every request,
//   so the pool is named by what does vary: host, port, local address, family and server name.
// - It does not pass `noDelay` on to tls.connect, so its sockets keep Nagle's algorithm (plain
//   http.Agent sockets get TCP_NODELAY): a request that spans more than one TCP segment (a large Put
//   on a real network) can wait for the node's delayed ACK before its last segment leaves.
import type { ClientRequestArgs } from 'node:http';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class TlsAgent extends HttpsAgent {
  /** `options` carry the TLS settings (ca, cert, key, …) for every request: requests must not carry their own. */
  constructor(options: AgentOptions) {
    super(options);
  }

  override getName(options?: RequestOptions): string {
    // http.Agent's name is host:port:localAddress[:family]; the server name is what the TLS
    // handshake verifies (set from the host by the agent before it names the pool).
    return `${HttpAgent.prototype.getName.call(this, options as ClientRequestArgs)}:${options?.servername ?? ''}`;
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    // Before it connects: libuv applies TCP_NODELAY when the socket is made.
    (socket as Socket | null | undefined)?.setNoDelay(true);
    return socket;
  }
}
