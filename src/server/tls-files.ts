// The TLS material a node serves with (issue 15): read from the files of --tls-* and --peer-tls-*,
// checked (the key matches the certificate, the PEM parses), and read again on SIGHUP. A reload
// that fails keeps the material in force and says why; one that succeeds applies to new handshakes
// (connections already open keep theirs). docs/security.md, "Reloading certificates".
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { TlsMaterial } from '../transport/options.ts';
import type { ClientTlsMaterial } from './api/front.ts';
import { NodeConfigError } from './config-flags.ts';
import type { TlsConfig, TlsFiles } from './tls-config.ts';

/** A certificate this close to its end is reported at start and at each reload. */
const EXPIRY_WARNING_MS = 7 * 86_400_000;

function read(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new NodeConfigError(`${flag} ${path}: ${(e as Error).message}`);
  }
}

function load(files: TlsFiles, prefix: '--tls' | '--peer-tls'): ClientTlsMaterial {
  const cert = read(files.cert, `${prefix}-cert`);
  const key = read(files.key, `${prefix}-key`);
  const ca = files.ca === null ? null : read(files.ca, `${prefix}-ca`);
  try {
    // Parses every PEM and checks that the key belongs to the certificate (node:tls).
    createSecureContext({ cert, key, ...(ca === null ? {} : { ca }) });
  } catch (e) {
    throw new NodeConfigError(
      `${prefix}-cert ${files.cert} / ${prefix}-key ${files.key}${ca === null ? '' : ` / ${prefix}-ca ${files.ca}`}: ${(e as Error).message}`,
    );
  }
  return { cert, key, ca };
}

/** Problems with a certificate's dates, for the log ('' when none). */
function dateProblem(cert: Buffer, flag: string, path: string, nowMs: number): string {
  let c: X509Certificate;
  try {
    c = new X509Certificate(cert);
  } catch {
    return '';
  }
  if (Date.parse(c.validFrom) > nowMs) return `${flag} ${path} is not valid before ${c.validFrom}`;
  if (Date.parse(c.validTo) < nowMs) return `${flag} ${path} expired on ${c.validTo}`;
  if (Date.parse(c.validTo) - EXPIRY_WARNING_MS < nowMs) return `${flag} ${path} expires on ${c.validTo}`;
  return '';
}

export class NodeTls {
  #client: ClientTlsMaterial | null;
  #peer: TlsMaterial | null;

  /** Throws NodeConfigError naming the flag and file that cannot be used. */
  constructor(private readonly cfg: TlsConfig) {
    this.#client = cfg.client === null ? null : load(cfg.client, '--tls');
    this.#peer = cfg.peer === null ? null : (load(cfg.peer, '--peer-tls') as TlsMaterial);
  }

  /** The client port's material in force (null: plaintext). */
  client(): ClientTlsMaterial | null {
    return this.#client;
  }

  /** The peer links' material in force (null: plaintext). */
  peer(): TlsMaterial | null {
    return this.#peer;
  }

  /** Certificates that expired, are not valid yet, or expire within a week: one line each. */
  warnings(nowMs = Date.now()): string[] {
    const out: string[] = [];
    if (this.#client !== null && this.cfg.client !== null)
      out.push(dateProblem(this.#client.cert, '--tls-cert', this.cfg.client.cert, nowMs));
    if (this.#peer !== null && this.cfg.peer !== null)
      out.push(dateProblem(this.#peer.cert as Buffer, '--peer-tls-cert', this.cfg.peer.cert, nowMs));
    return out.filter((w) => w !== '');
  }

  /**
   * Reads every file again. Each side is replaced only if all its files load and agree; the errors
   * of a side that failed are returned (its material in force is kept).
   */
  reload(): string[] {
    const errors: string[] = [];
    if (this.cfg.client !== null) {
      try {
        this.#client = load(this.cfg.client, '--tls');
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (this.cfg.peer !== null) {
      try {
        this.#peer = load(this.cfg.peer, '--peer-tls') as TlsMaterial;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    return errors;
  }
}
