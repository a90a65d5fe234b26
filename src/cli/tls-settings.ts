// How the CLI reaches nodes over TLS (issue 15): --cacert/--cert/--key (or LEASEKV_CACERT,
// LEASEKV_CERT, LEASEKV_KEY); without them, the files `leasekv up` recorded for the endpoints in
// use, so that the CLI works under `up` with no flags. The record is one small JSON file in the
// user's configuration folder (LEASEKV_CONFIG_HOME, else $XDG_CONFIG_HOME/leasekv, else
// ~/.config/leasekv): endpoint → the CA and client certificate files of the cluster serving there.
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import type { ClientTlsOptions } from '../client/transport.ts';

export interface TlsFilePaths {
  readonly cacert: string;
  readonly cert: string;
  readonly key: string;
}

export function configHome(env: NodeJS.ProcessEnv = process.env): string {
  const own = env['LEASEKV_CONFIG_HOME'];
  if (own !== undefined && own !== '') return own;
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config'), 'leasekv');
}

function recordPath(env: NodeJS.ProcessEnv): string {
  return join(configHome(env), 'local-clusters.json');
}

/** An endpoint's files; `started: false`: a port `up` keeps for a member added later, not started. */
type RecordEntry = TlsFilePaths & { readonly started?: boolean };

function readRecord(env: NodeJS.ProcessEnv): Record<string, RecordEntry> {
  try {
    const v = JSON.parse(readFileSync(recordPath(env), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, RecordEntry>) : {};
  } catch {
    return {};
  }
}

/**
 * `up`: records that `endpoints` are served by a cluster whose CA and client certificate are `paths`;
 * `started`: those of its members this run starts (the CLI's default endpoints, recordedUnder).
 */
export function recordLocalCluster(
  endpoints: readonly string[],
  paths: TlsFilePaths,
  env: NodeJS.ProcessEnv = process.env,
  started: readonly string[] = endpoints,
): string {
  const rec = readRecord(env);
  // The same files recorded for other endpoints were an earlier run's from this folder (another
  // --base-port after its data was deleted): recordedUnder() must give this run's endpoints only.
  for (const [ep, p] of Object.entries(rec)) if (p.cacert === paths.cacert && !endpoints.includes(ep)) delete rec[ep];
  for (const ep of endpoints) rec[ep] = { ...paths, started: started.includes(ep) };
  const path = recordPath(env);
  mkdirSync(configHome(env), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  return path;
}

/** The files recorded for `endpoint` (canonical host:port) whose files still exist, or null. */
export function recordedFor(endpoint: string, env: NodeJS.ProcessEnv = process.env): TlsFilePaths | null {
  const r = readRecord(env)[endpoint];
  if (r === undefined || typeof r.cacert !== 'string') return null;
  return [r.cacert, r.cert, r.key].every((f) => typeof f === 'string' && existsSync(f)) ? r : null;
}

/**
 * The endpoints `up` recorded with TLS files inside `dataDir` and started, in the order recorded ([] if none):
 * the CLI run from the folder of a `leasekv up` reaches that cluster without --endpoints, whatever
 * its --base-port (session 13 outside-in audit: after `up --base-port 47001` every README command
 * went to 7001 and waited out its deadline).
 */
export function recordedUnder(dataDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let root: string;
  try {
    root = realpathSync(dataDir) + sep;
  } catch {
    return [];
  }
  return Object.entries(readRecord(env))
    .filter(([ep, r]) => {
      try {
        return r.started !== false && recordedFor(ep, env) !== null && realpathSync(r.cacert).startsWith(root);
      } catch {
        return false;
      }
    })
    .map(([ep]) => ep);
}

export class TlsSettingsError extends Error {
  override readonly name = 'TlsSettingsError';
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsSettingsError(`${what} ${path}: ${(e as Error).message}`);
  }
}

/**
 * The TLS settings for a command: flags, then environment, then `up`'s record for the first
 * endpoint. null (plain http) when none applies or an endpoint says http:// explicitly.
 */
export function cliTls(
  given: { cacert?: string | undefined; cert?: string | undefined; key?: string | undefined },
  endpoints: readonly string[],
  schemes: ReadonlySet<string | null>,
  env: NodeJS.ProcessEnv = process.env,
): ClientTlsOptions | null {
  const pick = (flag: string | undefined, name: string): string | undefined =>
    flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const cacert = pick(given.cacert, 'LEASEKV_CACERT');
  const cert = pick(given.cert, 'LEASEKV_CERT');
  const key = pick(given.key, 'LEASEKV_KEY');
  if ((cert === undefined) !== (key === undefined))
    throw new TlsSettingsError('--cert and --key go together (a client certificate and its key)');
  if (cacert !== undefined || cert !== undefined) {
    return {
      ...(cacert === undefined ? {} : { ca: readFile(cacert, '--cacert') }),
      ...(cert === undefined ? {} : { cert: readFile(cert, '--cert') }),
      ...(key === undefined ? {} : { key: readFile(key, '--key') }),
    };
  }
  if (schemes.has('http')) return null;
  const rec = endpoints[0] === undefined ? null : recordedFor(endpoints[0], env);
  if (rec !== null)
    return { ca: readFile(rec.cacert, 'CA'), cert: readFile(rec.cert, 'certificate'), key: readFile(rec.key, 'key') };
  return schemes.has('https') ? {} : null;
}
