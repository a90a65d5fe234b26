// Setting auth up (issue 15): a member started with --auth --root-password-file, while it leads and
// the replicated table has no root user yet, proposes `enable` (the root user with that password's
// hash, and a fresh random token signing key). The first such entry applied wins on every replica;
// later ones are refused by the table, so several members may try at once.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config.ts';
import { NodeConfigError } from '../config.ts';
import type { AuthBackend } from './backend.ts';
import { hashPassword } from './passwords.ts';

/** The root password from the file's first line; refuses a missing or empty one. */
export function readRootPassword(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NodeConfigError(`--root-password-file ${file}: ${(e as Error).message}`);
  }
  const pw = (text.split(/\r?\n/)[0] ?? '').trim();
  if (pw === '') throw new NodeConfigError(`--root-password-file ${file} is empty`);
  return pw;
}

/** Starts trying (every `everyMs`) until auth is enabled; returns the stop function. */
export function startAuthEnabler(
  node: AuthBackend & { isLeader(): boolean },
  cfg: AuthConfig,
  everyMs: number,
  log: Logger,
): () => void {
  if (!cfg.required || cfg.rootPasswordFile === undefined) return () => undefined;
  const file = cfg.rootPasswordFile;
  const password = readRootPassword(file);
  if ((statSync(file).mode & 0o077) !== 0)
    log.warn({ file }, 'the root password file can be read by other users of this machine (chmod 600 it)');
  const ctrl = new AbortController();
  let busy = false;
  const hash = hashPassword(password);
  const tick = (): void => {
    if (busy || node.authTable().enabled) {
      if (node.authTable().enabled) clearInterval(timer);
      return;
    }
    if (!node.isLeader()) return;
    busy = true;
    hash
      .then((root) =>
        node.authChange({ kind: 'enable', root, signingKey: randomBytes(32).toString('base64') }, ctrl.signal),
      )
      .then(
        () => log.info('auth enabled: created the root user'),
        (err: unknown) => log.debug({ err: (err as Error).message }, 'enabling auth did not succeed yet; will retry'),
      )
      .finally(() => (busy = false));
  };
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    ctrl.abort();
  };
}
