// Shared by the client subcommands (put, get, del, cas, scan, status): flags, the client, output and
// exit codes. Exit codes: 0 ok, 1 the operation failed (error, not found, compare failed), 2 usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LeasekvClient, LeasekvError } from '../../client/index.ts';

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

export const COMMON_HELP = `
common options:
  --endpoints h:p,h:p   client addresses of the nodes (env LEASEKV_ENDPOINTS; default ${DEFAULT_ENDPOINTS})
  -w, --write-out F     output format: simple (default) or json
  --deadline-ms N       give up after N ms, retries included (default 5000)
  -h, --help            this help`;

const COMMON_OPTIONS = {
  endpoints: { type: 'string' },
  'write-out': { type: 'string', short: 'w' },
  'deadline-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Common {
  readonly endpoints: string[];
  readonly json: boolean;
  readonly deadlineMs: number;
}

export interface Parsed<V> {
  readonly common: Common;
  readonly values: V;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Parses the common flags plus `extra`; throws UsageError with a readable message. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], extra: O) {
  let res;
  try {
    res = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = res.values as Record<string, unknown>;
  const endpointsText = (v['endpoints'] as string | undefined) ?? process.env['LEASEKV_ENDPOINTS'] ?? DEFAULT_ENDPOINTS;
  const endpoints = endpointsText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const e of endpoints) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(e)) throw new UsageError(`endpoint '${e}' is not host:port`);
  }
  if (endpoints.length === 0) throw new UsageError('--endpoints is empty');
  const w = (v['write-out'] as string | undefined) ?? 'simple';
  if (w !== 'simple' && w !== 'json') throw new UsageError(`-w must be simple or json, got '${w}'`);
  const deadlineText = (v['deadline-ms'] as string | undefined) ?? '5000';
  const deadlineMs = Number(deadlineText);
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1) throw new UsageError(`--deadline-ms must be a positive integer, got '${deadlineText}'`);
  return {
    common: { endpoints, json: w === 'json', deadlineMs },
    values: res.values,
    positionals: res.positionals,
    help: v['help'] === true,
  };
}

export function makeClient(c: Common): LeasekvClient {
  return new LeasekvClient({ endpoints: c.endpoints, deadlineMs: c.deadlineMs });
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/**
 * Runs a subcommand body with uniform help, usage errors (exit 2) and operation errors (exit 1).
 * `body` returns the exit code.
 */
export async function command(name: string, usage: string, argv: string[], body: (argv: string[]) => Promise<number>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n${COMMON_HELP}\n`);
    return 0;
  }
  try {
    return await body(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`leasekv ${name}: ${err.message}\n\n${usage}\n`);
      return 2;
    }
    if (err instanceof LeasekvError) {
      process.stderr.write(`leasekv ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export function want(positionals: string[], n: number, what: string): void {
  if (positionals.length !== n) throw new UsageError(`expected ${what}, got ${positionals.length} argument(s)`);
}
