// The local CA of `leasekv up` (issue 15): a cluster started by `up` is secure by default. In
// DATA_DIR/tls it keeps two CAs — one for the client port (node certificates for 127.0.0.1 and
// localhost, and the CLI's client certificate), one for the peer links (each member's peer
// certificate) — so that no client certificate can pass as a member. Certificates are reused on
// the next run, and made again when missing, expiring, or not signed by the CA in the folder (a new
// CA makes every certificate again). docs/security.md, "Certificates under leasekv up".
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certStillGood, createCa, issueCert, type CertPem, type LeafOptions } from '../util/certs.ts';

/** A CA with less than this left is replaced (with every certificate it signed). */
const CA_MARGIN_MS = 30 * 86_400_000;
/** A certificate with less than this left is made again. */
const LEAF_MARGIN_MS = 7 * 86_400_000;

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface LocalCerts {
  readonly dir: string;
  /** Signs the client-port certificates and the client certificate (what the CLI verifies nodes against). */
  readonly ca: string;
  /** Signs the members' peer certificates (mutual TLS). */
  readonly peerCa: string;
  /** The CLI's client certificate (CN root). */
  readonly client: CertFiles;
  node(id: string): { readonly client: CertFiles; readonly peer: CertFiles };
}

function files(dir: string, name: string): CertFiles {
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function readPem(f: CertFiles): CertPem | null {
  if (!existsSync(f.cert) || !existsSync(f.key)) return null;
  return { certPem: readFileSync(f.cert, 'utf8'), keyPem: readFileSync(f.key, 'utf8') };
}

function writePem(f: CertFiles, c: CertPem): void {
  writeFileSync(f.cert, c.certPem);
  // Private keys readable by their owner only.
  writeFileSync(f.key, c.keyPem, { mode: 0o600 });
  chmodSync(f.key, 0o600);
}

/** The CA in `f`, or a new one (written) if it is missing or expiring; `fresh` says which. */
async function ensureCa(f: CertFiles, commonName: string): Promise<{ ca: CertPem; fresh: boolean }> {
  const have = readPem(f);
  if (have !== null && certStillGood(have.certPem, CA_MARGIN_MS)) return { ca: have, fresh: false };
  const ca = await createCa({ commonName });
  writePem(f, ca);
  return { ca, fresh: true };
}

/** Makes (or reuses) the certificate in `f`; returns whether it was made. */
async function ensureLeaf(f: CertFiles, ca: CertPem, caFresh: boolean, o: LeafOptions): Promise<boolean> {
  const have = readPem(f);
  if (!caFresh && have !== null && certStillGood(have.certPem, LEAF_MARGIN_MS, ca.certPem)) return false;
  writePem(f, await issueCert(ca, o));
  return true;
}

/**
 * Makes sure DATA_DIR/tls holds a usable CA pair and certificates for `ids` and the CLI. Returns
 * where they are and which files were made now (empty when everything was reused).
 */
export async function ensureLocalCerts(
  dataDir: string,
  ids: readonly string[],
): Promise<{ certs: LocalCerts; made: string[] }> {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made: string[] = [];
  const client = await ensureCa(files(dir, 'ca'), 'leasekv local client CA');
  const peer = await ensureCa(files(dir, 'peer-ca'), 'leasekv local peer CA');
  if (client.fresh) made.push('ca.crt');
  if (peer.fresh) made.push('peer-ca.crt');
  const local = { ips: ['127.0.0.1', '::1'], dnsNames: ['localhost'] };
  for (const id of ids) {
    // A node's client-port certificate is also its client certificate for `serve --join`.
    if (
      await ensureLeaf(files(dir, id), client.ca, client.fresh, {
        commonName: id,
        server: true,
        client: true,
        ...local,
      })
    )
      made.push(`${id}.crt`);
    if (await ensureLeaf(files(dir, `${id}-peer`), peer.ca, peer.fresh, { commonName: id, server: true, client: true }))
      made.push(`${id}-peer.crt`);
  }
  if (await ensureLeaf(files(dir, 'client'), client.ca, client.fresh, { commonName: 'root', client: true }))
    made.push('client.crt');
  return {
    certs: {
      dir,
      ca: join(dir, 'ca.crt'),
      peerCa: join(dir, 'peer-ca.crt'),
      client: files(dir, 'client'),
      node: (id) => ({ client: files(dir, id), peer: files(dir, `${id}-peer`) }),
    },
    made,
  };
}

/** The TLS settings of `serve` for member `id` of a cluster under `up` (flag names without --). */
export function serveTlsSettings(certs: LocalCerts, id: string): Record<string, string> {
  const n = certs.node(id);
  return {
    'tls-cert': n.client.cert,
    'tls-key': n.client.key,
    'tls-ca': certs.ca,
    'peer-tls-cert': n.peer.cert,
    'peer-tls-key': n.peer.key,
    'peer-tls-ca': certs.peerCa,
  };
}

/** The same as command-line arguments. */
export function serveTlsArgs(certs: LocalCerts, id: string): string[] {
  return Object.entries(serveTlsSettings(certs, id)).flatMap(([k, v]) => [`--${k}`, v]);
}
