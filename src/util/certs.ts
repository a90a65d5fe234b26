// Certificate generation for a local cluster (issue 15): a CA and the certificates it signs, as PEM.
// Keys are made and signatures computed by Node's WebCrypto (OpenSSL underneath); @peculiar/x509
// only encodes the certificates (ASN.1/DER) — no cryptography is written here (docs/security.md,
// "Choices"). The library is loaded on first use, so nothing that never makes a certificate (a
// node, the client library) loads it or the metadata polyfill it needs.
import { createHash, webcrypto, X509Certificate, randomBytes } from 'node:crypto';

/** A certificate and its private key (PKCS#8), PEM-encoded. */
export interface CertPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertOptions {
  readonly commonName: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

export interface LeafOptions extends CertOptions {
  /** Extended key usages: a server certificate (TLS server auth) and/or a client one. */
  readonly server?: boolean;
  readonly client?: boolean;
  /** Subject alternative names: IP addresses and DNS names the certificate is valid for. */
  readonly ips?: readonly string[];
  readonly dnsNames?: readonly string[];
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

type X509 = typeof import('@peculiar/x509');
let lib: Promise<X509> | null = null;

function x509(): Promise<X509> {
  lib ??= (async () => {
    // @peculiar/x509 resolves its algorithms through tsyringe, which needs this polyfill first.
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  })();
  return lib;
}

function serial(): string {
  // Positive (high bit clear), 16 random bytes: unique per certificate as RFC 5280 asks.
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

function validity(o: CertOptions, days: number): { notBefore: Date; notAfter: Date } {
  // An hour back: a clock slightly behind on another process must not see "not yet valid".
  const notBefore = o.notBefore ?? new Date(Date.now() - 3_600_000);
  return { notBefore, notAfter: o.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS) };
}

async function keyPem(key: CryptoKey): Promise<string> {
  const lib = await x509();
  return lib.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function dn(cn: string): string {
  if (!/^[A-Za-z0-9 ._-]{1,64}$/.test(cn))
    throw new RangeError(`common name '${cn}' must be 1–64 of A-Z a-z 0-9 space . _ -`);
  return `CN=${cn}`;
}

/** A self-signed CA that may sign end-entity certificates only (path length 0). Default 10 years. */
export async function createCa(o: CertOptions): Promise<CertPem> {
  const lib = await x509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(o.commonName),
    ...validity(o, 3650),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** An end-entity certificate signed by `ca`. Default 1 year. */
export async function issueCert(ca: CertPem, o: LeafOptions): Promise<CertPem> {
  const lib = await x509();
  const caCert = new lib.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', lib.PemConverter.decodeFirst(ca.keyPem), ALG, false, [
    'sign',
  ]);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const usages = [
    ...(o.server === true ? [lib.ExtendedKeyUsage.serverAuth] : []),
    ...(o.client === true ? [lib.ExtendedKeyUsage.clientAuth] : []),
  ];
  const names = [
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn(o.commonName),
    issuer: caCert.subject,
    ...validity(o, 365),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      ...(usages.length > 0 ? [new lib.ExtendedKeyUsageExtension(usages)] : []),
      ...(names.length > 0 ? [new lib.SubjectAlternativeNameExtension(names)] : []),
      await lib.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/**
 * Whether `certPem` is usable for at least `marginMs` more (and already valid), and, given `caPem`,
 * signed by that CA. Uses node:crypto's own X509Certificate (no library needed to check).
 */
export function certStillGood(certPem: string, marginMs: number, caPem?: string, nowMs = Date.now()): boolean {
  try {
    const c = new X509Certificate(certPem);
    if (Date.parse(c.validFrom) > nowMs || Date.parse(c.validTo) - marginMs < nowMs) return false;
    if (caPem === undefined) return true;
    const ca = new X509Certificate(caPem);
    return c.checkIssued(ca) && c.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The SHA-256 of the certificate's SubjectPublicKeyInfo, base64 (a pin, as browsers take it). */
export function spkiSha256(certPem: string): string {
  const c = new X509Certificate(certPem);
  const spki = c.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
