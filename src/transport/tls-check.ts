// Why a peer's certificate is not accepted, in words an operator can act on (issue 15). node:tls
// verifies the chain against the peer CA and the validity dates; the transport turns its verdict
// into a refusal (the dialled side) or a failed dial (the dialling side) that says what to fix.
import type { TLSSocket } from 'node:tls';

/** The first byte of a TLS record carrying a handshake (a ClientHello): never the first byte of a hello frame. */
export const TLS_HANDSHAKE_BYTE = 0x16;

/** null if the certificate the other end presented verified against the peer CA; else why not. */
export function peerCertProblem(sock: TLSSocket): string | null {
  if (sock.authorized) return null;
  const cert = sock.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || cert.fingerprint256 === undefined) {
    return 'no certificate was presented (every member needs --peer-tls-cert and --peer-tls-key)';
  }
  const cn = cert.subject?.CN;
  // Worded for both ends' logs: the refusing member's, and the refused member's (it gets the reason).
  const who = `the certificate presented${cn === undefined ? '' : ` (CN=${Array.isArray(cn) ? cn.join('+') : cn})`}`;
  const { code, problem } = certVerdict(sock, cert, "the cluster's peer CA (--peer-tls-ca)");
  return problem === null ? `${who} did not verify against the cluster's peer CA: ${code}` : `${who} ${problem}`;
}

/**
 * Why node:tls did not verify the certificate the other end of `sock` presented: the error code, and
 * what it means in words a user can act on (null when no better words than the code fit). Shared by
 * the peer transport and the client port; `trustedCa` names the CA and the flag that set it.
 */
export function certVerdict(
  sock: TLSSocket,
  cert: { valid_from: string; valid_to: string },
  trustedCa: string,
): { code: string; problem: string | null } {
  const err = sock.authorizationError as unknown;
  const code = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return { code, problem: `expired on ${cert.valid_to}` };
    case 'CERT_NOT_YET_VALID':
      return { code, problem: `is not valid before ${cert.valid_from}` };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return { code, problem: `is not signed by ${trustedCa}` };
    default:
      return { code, problem: null };
  }
}

/** A dial error's message, with a hint when TLS on one side meets plaintext on the other. */
export function tlsHint(tls: boolean, e: NodeJS.ErrnoException): string {
  if (!tls) return e.message;
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return `${e.message} (the peer port does not speak TLS: does that member run with --insecure?)`;
  return e.message;
}
