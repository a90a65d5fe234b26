// TLS settings of a node (issue 15): which files serve the client port and the peer links, and the
// rule that a node never serves plaintext unless told --insecure (docs/security.md).
import { NodeConfigError, type RawConfig } from './config-flags.ts';

/** Paths of a PEM certificate (chain), its key, and the CA to verify the other side against. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** Client port: verifies client certificates (optional). Peer links: required (mutual TLS). */
  readonly ca: string | null;
}

export interface TlsConfig {
  /** null: the client port is plaintext (only with --insecure). */
  readonly client: TlsFiles | null;
  /** null: peer links are plaintext (only with --insecure). */
  readonly peer: TlsFiles | null;
  readonly insecure: boolean;
}

const CLIENT_FLAGS = '--tls-cert and --tls-key (client port; --tls-ca to verify client certificates)';
const PEER_FLAGS = '--peer-tls-cert, --peer-tls-key and --peer-tls-ca (peer links, mutual TLS)';

function given(v: string | undefined): v is string {
  return v !== undefined && v !== '';
}

function booleanSetting(raw: string | undefined, flag: string): boolean {
  if (raw === undefined || raw === '') return false;
  const v = raw.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new NodeConfigError(`${flag} takes no value (or true/false), not '${raw}'`);
}

export function tlsSettings(raw: Partial<RawConfig>): TlsConfig {
  const insecure = booleanSetting(raw.insecure, '--insecure');
  let client: TlsFiles | null = null;
  if (given(raw.tlsCert) || given(raw.tlsKey) || given(raw.tlsCa)) {
    if (!given(raw.tlsCert) || !given(raw.tlsKey))
      throw new NodeConfigError(`client-port TLS needs both --tls-cert and --tls-key`);
    client = { cert: raw.tlsCert, key: raw.tlsKey, ca: given(raw.tlsCa) ? raw.tlsCa : null };
  }
  let peer: TlsFiles | null = null;
  if (given(raw.peerTlsCert) || given(raw.peerTlsKey) || given(raw.peerTlsCa)) {
    const missing = (
      [
        ['--peer-tls-cert', raw.peerTlsCert],
        ['--peer-tls-key', raw.peerTlsKey],
        ['--peer-tls-ca', raw.peerTlsCa],
      ] as const
    ).filter(([, v]) => !given(v));
    if (missing.length > 0)
      throw new NodeConfigError(
        `peer TLS is mutual and needs ${PEER_FLAGS}: ${missing.map(([f]) => f).join(' and ')} missing`,
      );
    peer = { cert: raw.peerTlsCert as string, key: raw.peerTlsKey as string, ca: raw.peerTlsCa as string };
  }
  return { client, peer, insecure };
}

/**
 * Why `serve` must not start with these settings (a plaintext port without --insecure), or null.
 * Checked by the command, not by buildNodeConfig: in-process tests and tools start nodes directly.
 */
export function plaintextRefusal(tls: TlsConfig): string | null {
  if (tls.insecure || (tls.client !== null && tls.peer !== null)) return null;
  const what =
    tls.client === null && tls.peer === null
      ? `give ${CLIENT_FLAGS}, and ${PEER_FLAGS}`
      : tls.client === null
        ? `the client port has no TLS: give ${CLIENT_FLAGS}`
        : `the peer links have no TLS: give ${PEER_FLAGS}`;
  return `refusing to serve in plaintext: ${what}; or --insecure to run without TLS (anyone who can reach a plaintext port can read and write every key, or join the peer links). \`leasekv up\` makes certificates for a local cluster.`;
}
