// What the connection tells about a client request (issue 15): whether it came over TLS, and the
// client certificate it presented — verified against the client port's CA (--tls-ca), or the reason
// it was not. This module only reports; authentication (what a certificate means: which user) is
// decided by the auth layer (docs/security.md).
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createContextKey } from '@connectrpc/connect';
import { certVerdict } from '../../transport/tls-check.ts';

export interface ClientCertificate {
  /** The subject in RFC 4514 order (least significant first): `CN=alice,O=ops`. */
  readonly subject: string;
  /** The subject's common name ('' if it has none): the user name a certificate stands for. */
  readonly commonName: string;
  /** SHA-256 fingerprint, colon-separated hex (as node:tls gives it). */
  readonly fingerprint256: string;
}

export interface ClientSecurity {
  /** The connection's source address ('' if unknown): what refusals are logged and rate-limited by. */
  readonly remote: string;
  /** The request arrived over TLS. */
  readonly tls: boolean;
  /** The client certificate, verified against the client port's CA; null if none was verified. */
  readonly clientCert: ClientCertificate | null;
  /**
   * A certificate was presented but did not verify (another CA, expired, not yet valid): why, in
   * words with node:tls's code (`it expired on … (CERT_HAS_EXPIRED)`). null when none was presented
   * or it verified.
   */
  readonly clientCertError: string | null;
}

export const PLAINTEXT: ClientSecurity = { remote: '', tls: false, clientCert: null, clientCertError: null };

/** The request's ClientSecurity, as a Connect context value (set by rpc.ts for every RPC). */
export const CLIENT_SECURITY = createContextKey<ClientSecurity>(PLAINTEXT, { description: 'leasekv client security' });

/** Per connection: the address and the peer certificate cannot change on a connection (renegotiation is off). */
const cache = new WeakMap<Socket, ClientSecurity>();

/** The connection a request came on (HTTP/1.1: its socket; HTTP/2: its session's socket). */
function socketOf(req: IncomingMessage | Http2ServerRequest): Socket | undefined {
  if ('stream' in req) return req.stream.session?.socket as Socket | undefined;
  return req.socket;
}

export function clientSecurityOf(req: IncomingMessage | Http2ServerRequest): ClientSecurity {
  const sock = socketOf(req);
  return sock === undefined ? PLAINTEXT : securityOfSocket(sock);
}

/** The ClientSecurity of a connection (framing.ts reads requests without node:http: the same object). */
export function securityOfSocket(sock: Socket): ClientSecurity {
  let s = cache.get(sock);
  if (s === undefined) {
    s = sock instanceof TLSSocket ? describe(sock) : { ...PLAINTEXT, remote: sock.remoteAddress ?? '' };
    cache.set(sock, s);
  }
  return s;
}

function describe(sock: TLSSocket): ClientSecurity {
  const remote = sock.remoteAddress ?? '';
  const cert = sock.getPeerCertificate();
  // An empty object when the client sent no certificate.
  if (cert === null || typeof cert !== 'object' || cert.fingerprint256 === undefined) {
    return { remote, tls: true, clientCert: null, clientCertError: null };
  }
  if (!sock.authorized) {
    const { code, problem } = certVerdict(sock, cert, 'the CA this node trusts (--tls-ca)');
    return { remote, tls: true, clientCert: null, clientCertError: `it ${problem ?? 'did not verify'} (${code})` };
  }
  const subject = cert.subject ?? {};
  const parts = Object.entries(subject).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`));
  const cn = subject.CN;
  return {
    remote,
    tls: true,
    clientCert: {
      subject: parts.reverse().join(','),
      commonName: Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? ''),
      fingerprint256: cert.fingerprint256,
    },
    clientCertError: null,
  };
}
