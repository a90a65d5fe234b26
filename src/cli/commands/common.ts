// Shared by the client subcommands (put, get, del, cas, scan, status, and the ones added later):
// flags, the client, output and exit codes. Exit codes: 0 ok, 1 the operation failed (error, not
// found, compare failed), 2 usage.
//
// A new command gets the common flags (--endpoints, -w, --deadline-ms, --help), typo suggestions and
// output formats by calling parse() and emit() inside command().
import { EndpointError, LeasekvClient, LeasekvError, endpointScheme, normalizeEndpoint } from '../../client/index.ts';
import type { ClientTlsOptions } from '../../client/transport.ts';
import { cliTls, recordedUnder, TlsSettingsError } from '../tls-settings.ts';
import { parseFlags, UsageError, type FlagOptions } from './flags.ts';
import { emit, field, FORMATS, parseFormat, renderTable, type Format } from './output.ts';
import { ValueInputError } from './value-input.ts';
import { credentialsFrom } from './credentials.ts';
import type { Credentials } from '../../client/auth.ts';

export { UsageError, parseFlags, unknownFlagMessage, type FlagOptions } from './flags.ts';
export { MAX_INPUT_BYTES, ValueInputError, readValue } from './value-input.ts';
export { FORMATS, emit, field, parseFormat, printJson, renderTable, type Format, type Renderers } from './output.ts';

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

/** The help text of the common options; `formats` lists the -w values the command offers. */
export function commonHelp(formats: readonly Format[] = FORMATS, defaultFormat: Format = 'simple'): string {
  const list = formats.map((f) => (f === defaultFormat ? `${f} (default)` : f)).join(', ');
  return `
common options:
  --endpoints E,E       the nodes' client addresses: host:port, [v6]:port, https://host:port or
                        http://host:port (env LEASEKV_ENDPOINTS; default: the cluster \`leasekv up\`
                        started from this folder, else ${DEFAULT_ENDPOINTS})
  --cacert FILE         CA (PEM) the nodes' certificates are verified against: TLS (env LEASEKV_CACERT)
  --cert FILE, --key FILE  client certificate and key (PEM) (env LEASEKV_CERT, LEASEKV_KEY)
                        Without these, a cluster started by \`leasekv up\` is reached over TLS with the
                        files it recorded for these endpoints; http:// forces plaintext.
  -w, --write-out F     output format: ${list}
  --deadline-ms N       give up after N ms, retries included (default 5000)
  --user NAME[:PW]      authenticate as this user (env LEASEKV_USER; password also LEASEKV_PASSWORD);
                        default under \`leasekv up\`: root, from ./data/root.password
  --token T             a token from Authenticate instead (env LEASEKV_TOKEN)
  -h, --help            this help`;
}

/** The common options' help for the default formats (kept for commands that print it themselves). */
export const COMMON_HELP = commonHelp();

export const COMMON_OPTIONS = {
  endpoints: { type: 'string' },
  'write-out': { type: 'string', short: 'w' },
  'deadline-ms': { type: 'string' },
  user: { type: 'string' },
  token: { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagOptions;

export interface Common {
  readonly endpoints: string[];
  readonly format: Format;
  /** format === 'json' */
  readonly json: boolean;
  readonly deadlineMs: number;
  /** Who calls (issue 15); undefined: nobody in particular (a cluster without auth). */
  readonly credentials?: Credentials;
  /** TLS to the nodes (null: plain http); tls-settings.ts. */
  readonly tls: ClientTlsOptions | null;
}

export interface OutputOptions {
  /** The -w values this command offers (default all). */
  readonly formats?: readonly Format[];
  /** The format without -w (default simple). */
  readonly defaultFormat?: Format;
}

/** Splits and normalises an endpoint list (flag or LEASEKV_ENDPOINTS); throws UsageError. */
export function parseEndpoints(text: string, source = '--endpoints'): string[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new UsageError(`${source} is empty`);
  try {
    return [...new Set(parts.map(normalizeEndpoint))];
  } catch (err) {
    if (err instanceof EndpointError) throw new UsageError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Without --endpoints or LEASEKV_ENDPOINTS: the cluster `up` started from this folder (./data), else DEFAULT_ENDPOINTS. */
function defaultEndpoints(): string {
  const here = recordedUnder('data');
  return here.length > 0 ? here.join(',') : DEFAULT_ENDPOINTS;
}

/** Parses the common flags plus `extra`; throws UsageError with a readable message. */
export function parse<O extends FlagOptions>(argv: string[], extra: O, out: OutputOptions = {}) {
  const res = parseFlags(argv, { ...COMMON_OPTIONS, ...extra });
  const v = res.values as Record<string, unknown>;
  const flag = v['endpoints'] as string | undefined;
  const env = process.env['LEASEKV_ENDPOINTS'];
  const [text, source] =
    flag !== undefined
      ? [flag, '--endpoints']
      : env !== undefined && env.trim() !== ''
        ? [env, 'LEASEKV_ENDPOINTS']
        : [defaultEndpoints(), '--endpoints'];
  const endpoints = parseEndpoints(text, source);
  const schemes = new Set(text.split(',').map((e) => endpointScheme(e)));
  if (schemes.has('http') && schemes.has('https')) throw new UsageError(`${source}: both http:// and https:// given`);
  let tls: ClientTlsOptions | null;
  try {
    tls = cliTls(
      {
        cacert: v['cacert'] as string | undefined,
        cert: v['cert'] as string | undefined,
        key: v['key'] as string | undefined,
      },
      endpoints,
      schemes,
    );
  } catch (e) {
    if (e instanceof TlsSettingsError) throw new UsageError(e.message);
    throw e;
  }
  const format = parseFormat(
    (v['write-out'] as string | undefined) ?? out.defaultFormat ?? 'simple',
    out.formats ?? FORMATS,
  );
  const deadlineText = (v['deadline-ms'] as string | undefined) ?? '5000';
  const deadlineMs = Number(deadlineText);
  if (!Number.isInteger(deadlineMs) || deadlineMs < 1)
    throw new UsageError(`--deadline-ms must be a positive integer, got '${deadlineText}'`);
  const credentials = credentialsFrom(
    { user: v['user'] as string | undefined, token: v['token'] as string | undefined },
    process.env,
    endpoints,
  );
  return {
    common: {
      endpoints,
      format,
      json: format === 'json',
      deadlineMs,
      tls,
      ...(credentials === undefined ? {} : { credentials }),
    } satisfies Common,
    values: res.values,
    positionals: res.positionals,
    help: v['help'] === true,
  };
}

export function makeClient(c: Common): LeasekvClient {
  return new LeasekvClient({
    endpoints: c.endpoints,
    deadlineMs: c.deadlineMs,
    ...(c.credentials === undefined ? {} : { credentials: c.credentials }),
    ...(c.tls === null ? {} : { tls: c.tls }),
  });
}

/** True when argv asks for help (before any `--`, which ends the flags). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  return flags.includes('--help') || flags.includes('-h');
}

/**
 * Runs a subcommand body with uniform help (exit 0), usage errors (exit 2) and operation errors
 * (exit 1). `body` returns the exit code. `out` names the -w formats shown in the help.
 */
export async function command(
  name: string,
  usage: string,
  argv: string[],
  body: (argv: string[]) => Promise<number>,
  out: OutputOptions = {},
): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage}\n${commonHelp(out.formats, out.defaultFormat)}\n`);
    return 0;
  }
  try {
    return await body(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`leasekv ${name}: ${err.message}\n\n${usage}\n`);
      return 2;
    }
    if (err instanceof ValueInputError) {
      process.stderr.write(`leasekv ${name}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof LeasekvError) {
      process.stderr.write(`leasekv ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    // A file that cannot be read or written (its message names the call and the path): one line,
    // not a stack (`snapshot save` to a folder that does not exist, session 11 operator audit).
    if (isSystemError(err)) {
      process.stderr.write(`leasekv ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** An error from the operating system (fs, net): a string `code` such as ENOENT and the `syscall`. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException;
  return e instanceof Error && typeof x.code === 'string' && typeof x.syscall === 'string';
}

export function want(positionals: string[], n: number, what: string): void {
  if (positionals.length !== n) throw new UsageError(`expected ${what}, got ${positionals.length} argument(s)`);
}

/** Runs `fn` with a client for `common`, and closes the client after. */
export async function withClient<T>(common: Common, fn: (client: LeasekvClient) => Promise<T>): Promise<T> {
  const client = makeClient(common);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A subcommand's handler: the arguments after its name. */
export type Subcommand = (rest: string[], sub: string) => Promise<number>;

/**
 * `leasekv GROUP SUB …` (member, user, role): the usage on --help (exit 0) or without a subcommand
 * (exit 2), an unknown subcommand named (exit 2), else SUB's handler.
 */
export function dispatch(
  group: string,
  usage: string,
  argv: string[],
  subs: Readonly<Record<string, Subcommand>>,
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    // --help gives the common options too, as each subcommand's does (session 13 outside-in audit).
    process.stdout.write(sub === undefined ? `${usage}\n` : `${usage}\n${COMMON_HELP}\n`);
    return Promise.resolve(sub === undefined ? 2 : 0);
  }
  const handler = Object.hasOwn(subs, sub) ? subs[sub] : undefined;
  if (handler === undefined) {
    process.stderr.write(
      `leasekv ${group}: unknown subcommand '${sub}' (${Object.keys(subs).join(', ')})\n\n${usage}\n`,
    );
    return Promise.resolve(2);
  }
  return handler(rest, sub);
}

const LIST_FORMATS: readonly Format[] = ['table', 'simple', 'json'];

/**
 * A `list` subcommand: one call without arguments, shown as a table (`headers`, `rows`), as simple
 * lines (a row a line) or as the JSON answer.
 */
export function listCommand(
  name: string,
  usage: string,
  argv: string[],
  o: {
    readonly call: (client: LeasekvClient, opts: { deadlineMs: number }) => Promise<Record<string, unknown>>;
    readonly headers: readonly string[];
    readonly rows: (answer: Record<string, unknown>) => string[][];
  },
): Promise<number> {
  const out = { formats: LIST_FORMATS, defaultFormat: 'table' } as const;
  return command(
    name,
    usage,
    argv,
    async () => {
      const { common, positionals } = parse(argv, {}, out);
      want(positionals, 0, 'no arguments');
      const a = await withClient(common, (client) => o.call(client, { deadlineMs: common.deadlineMs }));
      const rows = o.rows(a);
      emit(common.format, {
        table: () => renderTable(o.headers, rows),
        simple: () => rows.map((r) => `${r.map(field).join(', ')}\n`).join(''),
        json: () => a,
      });
      return 0;
    },
    out,
  );
}

/**
 * A subcommand of one leasekv.v1.Auth call (user, role): `args` positionals (`what` names them),
 * `body` builds the call from them and the flags of `options`; prints "ok", or the answer with -w json.
 */
export function authCommand<O extends FlagOptions>(
  name: string,
  usage: string,
  argv: string[],
  o: {
    readonly options: O;
    readonly args: number;
    readonly what: string;
    readonly body: (positionals: string[], values: Record<string, unknown>) => [string, Record<string, unknown>];
  },
): Promise<number> {
  return command(name, usage, argv, async () => {
    const { common, positionals, values } = parse(argv, o.options, { formats: ['simple', 'json'] });
    want(positionals, o.args, o.what);
    const [method, req] = o.body(positionals, values as Record<string, unknown>);
    const a = await withClient(common, (client) => client.auth(method, req, { deadlineMs: common.deadlineMs }));
    emit(common.format, { simple: () => 'ok\n', json: () => a });
    return 0;
  });
}
