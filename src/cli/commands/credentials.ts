// Who the CLI is (issue 15; docs/security.md "The CLI"): --token / LEASEKV_TOKEN, else --user
// NAME[:PASSWORD] / LEASEKV_USER (the password after the first ':', else LEASEKV_PASSWORD), else the
// root password file of `leasekv up` (LEASEKV_ROOT_PASSWORD_FILE, or ./data/root.password, which
// `up` creates with mode 0600, for the endpoints `up` recorded with ./data's certificates only),
// used only if the cluster has auth on — so the CLI works under `up` without flags.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Credentials } from '../../client/auth.ts';
import { recordedFor } from '../tls-settings.ts';
import { UsageError } from './flags.ts';

export const ROOT_PASSWORD_FILE = 'root.password';

/** `up`'s root password file in its data folder: created (random, mode 0600) if missing; returns its path. */
export function ensureRootPassword(dataDir: string): string {
  const file = resolve(dataDir, ROOT_PASSWORD_FILE);
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return file;
}

export function credentialsFrom(
  flags: { user?: string | undefined; token?: string | undefined },
  env: NodeJS.ProcessEnv,
  endpoints: readonly string[] = [],
): Credentials | undefined {
  const token = flags.token ?? nonEmpty(env['LEASEKV_TOKEN']);
  if (token !== undefined) return { token };
  const user = flags.user ?? nonEmpty(env['LEASEKV_USER']);
  if (user !== undefined) {
    const colon = user.indexOf(':');
    const name = colon < 0 ? user : user.slice(0, colon);
    const password = colon < 0 ? nonEmpty(env['LEASEKV_PASSWORD']) : user.slice(colon + 1);
    if (name === '') throw new UsageError('--user needs a user name: --user NAME[:PASSWORD]');
    if (password === undefined)
      throw new UsageError(`no password for user ${name}: give --user ${name}:PASSWORD or set LEASEKV_PASSWORD`);
    return { user: name, password };
  }
  const given = nonEmpty(env['LEASEKV_ROOT_PASSWORD_FILE']);
  // ./data/root.password goes only to the cluster `up` started from this folder: run from here
  // against any other endpoint (`--endpoints http://10.0.0.5:7001`), the CLI would hand root's
  // password of the local cluster to that server (session 9 audit).
  if (given === undefined && !endpoints.every((ep) => servedFromHere(ep, env))) return undefined;
  const file = given ?? join('data', ROOT_PASSWORD_FILE);
  if (!existsSync(file)) return undefined;
  let password: string;
  try {
    password = (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
  } catch {
    return undefined;
  }
  return password === '' ? undefined : { user: 'root', password, ifEnabled: true };
}

/** `up` recorded `endpoint` as served by the cluster whose TLS files are in ./data (tls-settings.ts). */
function servedFromHere(endpoint: string, env: NodeJS.ProcessEnv): boolean {
  const rec = recordedFor(endpoint, env);
  if (rec === null) return false;
  try {
    return realpathSync(rec.cacert).startsWith(realpathSync('data') + sep);
  } catch {
    return false;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
