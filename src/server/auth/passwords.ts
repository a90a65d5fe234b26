// Password hashing (issue 15): scrypt from node:crypto with a random 16-byte salt per user, run on
// libuv's thread pool (crypto.scrypt is asynchronous), so hashing never blocks the event loop that
// serves reads and renews the lease. It is paid once per Authenticate or password change, never
// per request: requests carry a token (tokens.ts).
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { PasswordHash } from '../../kv/auth.ts';

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, ~50 ms on one core); the key is 32 bytes. */
const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 << 20 } as const;
const KEY_BYTES = 32;
/** Longest password accepted (bytes): scrypt takes any length, but a request should not make it hash megabytes. */
export const MAX_PASSWORD_BYTES = 1024;

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, SCRYPT, (err, key) => (err === null ? resolve(key) : reject(err))),
  );
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(password, salt);
  return { salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** Constant-time comparison of scrypt(password, salt) with the stored hash. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const want = Buffer.from(stored.hash, 'base64');
  const got = await derive(password, Buffer.from(stored.salt, 'base64'));
  return want.length === got.length && timingSafeEqual(want, got);
}
