// DNS rebinding (session 12): a web page on evil.example whose name the attacker's DNS then points
// at 127.0.0.1 (or at a node's LAN address) is, to the browser, still the page's own origin — it may
// send requests there and read the answers. Against a node started with --insecure (plaintext:
// with TLS, the default, the browser refuses the node's certificate for the attacker's name) that
// page could read and write every key through the HTTP/JSON API, watch, read /metrics.
//
// What such a request cannot hide is its Host (HTTP/2: :authority): the attacker's name. So a
// plaintext client port answers only requests whose Host is
//   - absent (HTTP/1.0; a browser always sends one), or an IP address (no DNS involved: a page
//     cannot be rebound to a literal),
//   - localhost or a name under .localhost (browsers resolve those to loopback themselves),
//   - a name of the cluster's own configuration: --listen-client, --client-addrs, --peers, --join,
//     --peer-routes as this member knows them at start (the operator's names, which the attacker's
//     DNS does not serve), and this machine's host name,
//   - a name in --allowed-hosts (a load balancer's, a service's; `.example.com` for any name under
//     it; `*` turns the check off),
// and refuses any other name with 403 permission_denied (gRPC: status 7) before any other work.
// gRPC clients send the target they dialled as :authority, so a client that dials a name must have
// that name allowed too — the message says how.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { isIP } from 'node:net';
import { grpcMessageHeader } from './errors.ts';
import { writeJsonError } from './rpc.ts';

/** Host values remembered with their verdict (the same few arrive on every request). */
const MAX_REMEMBERED = 256;

export interface HostCheck {
  /** Answers the request (true) when its Host is a name this node does not answer to. */
  refuse(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean;
  /** Requests refused so far. */
  readonly refused: number;
  /** Whether a request with this Host is answered (framing.ts: one that is not goes to node:http, which refuses it). */
  allows(host: string): boolean;
}

/** `names`: the DNS names allowed besides IP addresses and localhost (`.suffix`: any name under it; `*`: all). */
export function hostCheck(names: readonly string[], onRefused?: (host: string) => void): HostCheck {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  let any = false;
  for (const n of names) {
    const name = normalName(n);
    if (name === '*') any = true;
    else if (name.startsWith('.')) suffixes.push(name);
    else if (name !== '') exact.add(name);
  }
  const verdicts = new Map<string, boolean>();
  const allowed = (host: string): boolean => {
    let ok = verdicts.get(host);
    if (ok !== undefined) return ok;
    const name = normalName(hostnameOf(host));
    ok =
      name === '' ||
      isIP(name) !== 0 ||
      name === 'localhost' ||
      name.endsWith('.localhost') ||
      exact.has(name) ||
      suffixes.some((s) => name.endsWith(s));
    if (verdicts.size < MAX_REMEMBERED) verdicts.set(host, ok);
    return ok;
  };
  let refused = 0;
  return {
    refuse(req, res) {
      if (any) return false;
      const host = ('stream' in req ? req.headers[':authority'] : undefined) ?? req.headers.host;
      if (host === undefined || allowed(host)) return false;
      refused++;
      onRefused?.(host);
      answer(req, res, host);
      return true;
    },
    get refused() {
      return refused;
    },
    allows: (host) => any || allowed(host),
  };
}

/** The name part of a Host value: `name:port`, `[v6]:port`, `name`. */
function hostnameOf(host: string): string {
  const h = host.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** Lower case, without the root's trailing dot (`evil.example.` is `evil.example`). */
function normalName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') && n !== '.' ? n.slice(0, -1) : n;
}

function answer(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  host: string,
): void {
  // The attacker's page may read this answer: it names no other address of the node.
  const message = `Host ${JSON.stringify(host.slice(0, 256))} is not a name of this node: a plaintext (--insecure) node answers only its own addresses, IP addresses and localhost, so that a web page cannot reach it by DNS rebinding; to use this name, start the node with --allowed-hosts NAME (or TLS)`;
  const ct = req.headers['content-type'];
  if ('stream' in req && typeof ct === 'string' && /^application\/grpc/i.test(ct)) {
    req.stream.respond(
      { ':status': 200, 'content-type': ct, 'grpc-status': '7', 'grpc-message': grpcMessageHeader(message) },
      { endStream: true },
    );
    return;
  }
  writeJsonError(res, 403, 'permission_denied', message, 'stream' in req ? {} : { connection: 'close' });
}
