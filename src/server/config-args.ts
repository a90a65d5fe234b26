// `leasekv serve`'s flags, LEASEKV_* environment variables and --config file read into raw strings
// (flags win over environment, environment over file), by the table in config-flags.ts.
import { readFileSync } from 'node:fs';
import { FLAGS, NodeConfigError, type RawConfig } from './config-flags.ts';
import { nearest } from '../util/suggest.ts';

function kebabToCamel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function readConfigFile(path: string): Partial<RawConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new NodeConfigError(`--config ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new NodeConfigError(`--config ${path}: must be a JSON object`);
  }
  const known = Object.values(FLAGS)
    .map((f) => f.key as string)
    .filter((k) => k !== 'config');
  const out: Partial<RawConfig> = {};
  for (const [k, v] of Object.entries(parsed)) {
    const key = kebabToCamel(k);
    if (!known.includes(key)) {
      const guess = nearest(key, known);
      throw new NodeConfigError(
        `--config ${path}: unknown setting '${k}'${guess === undefined ? '' : `; did you mean '${guess}'?`}`,
      );
    }
    // A list (["n1=10.0.0.1:7101", …] or ["10.0.0.1:7001", …]) is the flag's comma-separated value;
    // an object ({"n1": "10.0.0.1:7101"}) its id=HOST:PORT pairs.
    (out as Record<string, string>)[key] = Array.isArray(v)
      ? v.map(String).join(',')
      : typeof v === 'object' && v !== null
        ? Object.entries(v)
            .map(([a, b]) => `${a}=${String(b)}`)
            .join(',')
        : String(v);
  }
  return out;
}

/** Parses argv (after `serve`) and env into raw strings; flags win. */
export function rawFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Partial<RawConfig> {
  const fromFlags: Partial<RawConfig> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] =
      arg.includes('=') && arg.startsWith('--')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const spec = FLAGS[flag];
    if (spec === undefined) {
      const names = Object.keys(FLAGS).map((f) => f.slice(2));
      const guess = flag.startsWith('-') ? nearest(flag.replace(/^-+/, ''), names) : undefined;
      throw new NodeConfigError(
        `unknown option '${arg}'${guess === undefined ? '' : `; did you mean --${guess}?`} (see leasekv serve --help)`,
      );
    }
    const value = spec.boolean === true ? (inline ?? 'true') : (inline ?? argv[++i]);
    if (value === undefined) throw new NodeConfigError(`${flag} needs a value`);
    fromFlags[spec.key] = value;
  }
  const fromEnv: Partial<RawConfig> = {};
  for (const spec of Object.values(FLAGS)) {
    const v = env[spec.env];
    if (v !== undefined && v !== '') fromEnv[spec.key] = v;
  }
  const file = fromFlags.config ?? fromEnv.config;
  const fromFile = file === undefined ? {} : readConfigFile(file);
  return { ...fromFile, ...fromEnv, ...fromFlags };
}

/** LEASEKV_* variables read by other commands (the CLI, `leasekv up`, `lock`, the tests and the bench): not typos. */
const OTHER_VARIABLES = new Set(
  ['ENDPOINTS', 'CACERT', 'CERT', 'KEY', 'USER', 'PASSWORD', 'TOKEN', 'FENCING_TOKEN', 'LOCK_KEY', 'RUN', 'BIN']
    .concat(['CONTROL_URL', 'UP_SERVE', 'CONFIG_HOME', 'CHROMIUM', 'ITEST_KEEP', 'TEST_CONCURRENCY'])
    .concat(['TEST_PAUSE_AT', 'TEST_PORTS_DIR'])
    .map((n) => `LEASEKV_${n}`),
);

/**
 * One line for each LEASEKV_* variable in `env` that no command reads: a typo in an environment file
 * (LEASEKV_PEER for LEASEKV_PEERS) or a shell (LEASEKV_ENDPOINT) would otherwise leave its setting at
 * the default without a word (session 11 operator audit). Warnings, not errors.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = [...Object.values(FLAGS).map((f) => f.env), ...OTHER_VARIABLES];
  return Object.keys(env)
    .filter((k) => k.startsWith('LEASEKV_') && !known.includes(k))
    .sort()
    .map((k) => {
      const guess = nearest(k, known);
      return `${k} is not a leasekv setting and is ignored${guess === undefined ? '' : `; did you mean ${guess}?`}`;
    });
}
