// Bearer tokens (issue 15; docs/security.md "Tokens"): `lkv1.<payload>.<mac>`, where payload is
// base64url JSON {u: user, g: password generation, c: credential fingerprint, e: expiry (ms since the
// epoch)} and mac is
// HMAC-SHA256 over the payload with the cluster's signing key (replicated in the auth table, so any
// member accepts a token any member made). Verifying is one HMAC (microseconds), and verified tokens
// are cached, so a lease read with a token costs a map lookup — not a password hash per request, the
// mistake that made etcd's reads 0.6 ms → 140 ms.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'lkv1.';
/** Verified tokens kept; the cache is emptied when full (a re-verify costs one HMAC). */
const MAX_CACHED_TOKENS = 10_000;

export interface TokenClaims {
  readonly user: string;
  readonly generation: number;
  /**
   * credentialFingerprint of the password the token was issued under. The generation alone starts
   * again at 1 when a user is deleted and created again under the same name, so a token of the
   * deleted user was accepted again (session 11 audit); the salt is new for every password set.
   */
  readonly credential: string;
  readonly expiresAtMs: number;
}

/** Fingerprints already computed, per user record (records are replaced, never changed, on every change). */
const fingerprints = new WeakMap<object, string>();

/**
 * 72 bits of SHA-256 over the password's salt (random per user-add and per password change): names
 * one password of one user without putting the salt or the hash in a bearer token.
 */
export function credentialFingerprint(user: { readonly salt: string }): string {
  let f = fingerprints.get(user);
  if (f === undefined) {
    f = createHash('sha256').update(user.salt).digest().subarray(0, 9).toString('base64url');
    fingerprints.set(user, f);
  }
  return f;
}

function mac(key: string, payload: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(payload).digest();
}

export function signToken(key: string, claims: TokenClaims): string {
  const payload = Buffer.from(
    JSON.stringify({ u: claims.user, g: claims.generation, c: claims.credential, e: claims.expiresAtMs }),
    'utf8',
  ).toString('base64url');
  return `${PREFIX}${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The claims of a well-formed token with a valid MAC (expiry not checked), else null. */
export function verifyToken(key: string, token: string): TokenClaims | null {
  if (!token.startsWith(PREFIX)) return null;
  const dot = token.indexOf('.', PREFIX.length);
  if (dot < 0) return null;
  const payload = token.slice(PREFIX.length, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const want = mac(key, payload);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return null;
  try {
    const v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const [u, g, c, e] = [v['u'], v['g'], v['c'], v['e']];
    if (typeof u !== 'string' || typeof g !== 'number' || typeof c !== 'string' || typeof e !== 'number') return null;
    return { user: u, generation: g, credential: c, expiresAtMs: e };
  } catch {
    return null;
  }
}

/** Verified tokens, per signing key: a token is verified once, then looked up. */
export class TokenCache {
  #key = '';
  readonly #claims = new Map<string, TokenClaims | null>();

  /** The token's claims (MAC checked with `key`), or null when it is not valid under it. */
  claims(key: string, token: string): TokenClaims | null {
    if (key !== this.#key) {
      this.#claims.clear();
      this.#key = key;
    }
    const hit = this.#claims.get(token);
    if (hit !== undefined) return hit;
    const c = verifyToken(key, token);
    // Only valid tokens are kept: garbage cannot fill the cache.
    if (c !== null) {
      if (this.#claims.size >= MAX_CACHED_TOKENS) this.#claims.clear();
      this.#claims.set(token, c);
    }
    return c;
  }
}
