// Flag parsing shared by every subcommand (issue 10): node:util parseArgs underneath, but a mistyped
// flag gets a readable error naming the nearest known flag ("unknown flag --endpoint; did you mean
// --endpoints?") instead of the parser's own text. Every such error is a UsageError (exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nearest } from '../../util/suggest.ts';

export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** Bad command-line usage: the command prints it with its usage text and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The message for an unknown flag `token` (as typed, e.g. `--endpoint` or `-x`). */
export function unknownFlagMessage(token: string, options: FlagOptions): string {
  const longs = Object.keys(options);
  const shorts = Object.values(options).flatMap((o) => (o.short === undefined ? [] : [o.short]));
  let guess: string | undefined;
  if (token.startsWith('--')) {
    const g = nearest(token.slice(2), longs);
    if (g !== undefined) guess = `--${g}`;
  } else if (token.length > 2 && token[1] !== '-') {
    // `-endpoints`: a long flag typed with one dash.
    const g = nearest(token.slice(1), longs);
    if (g !== undefined) guess = `--${g}`;
  }
  if (guess !== undefined) return `unknown flag ${token}; did you mean ${guess}?`;
  if (/^-\d/.test(token)) return `unknown flag ${token} (a value starting with '-' goes after --, e.g. -- ${token})`;
  const known = [...longs.map((l) => `--${l}`), ...shorts.map((s) => `-${s}`)].join(' ');
  return `unknown flag ${token} (known: ${known})`;
}

/** Finds the first flag in argv that `options` does not know (stops at `--`). */
function firstUnknownFlag(argv: readonly string[], options: FlagOptions): string | undefined {
  const byShort = new Map(
    Object.entries(options).flatMap(([name, o]) => (o.short === undefined ? [] : [[o.short, name] as const])),
  );
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if (a.length < 2 || a[0] !== '-') continue;
    let name: string | undefined;
    let inline = false;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = a.slice(2, eq < 0 ? undefined : eq);
      inline = eq >= 0;
      if (!Object.hasOwn(options, name)) return eq < 0 ? a : a.slice(0, eq);
    } else {
      name = byShort.get(a[1]!);
      if (name === undefined) return a;
      inline = a.length > 2;
    }
    // A string flag's value is the next argument (unless given inline): skip it.
    if (options[name]?.type === 'string' && !inline) i++;
  }
  return undefined;
}

/** The parser's errors in our words (missing value, boolean given a value, ...). */
function translate(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const flag = /'(?:-\w, )?(--[\w-]+)/.exec(msg)?.[1] ?? '';
  if (/argument missing/.test(msg)) return `flag ${flag} needs a value`;
  if (/argument is ambiguous/.test(msg))
    return `flag ${flag} needs a value (to give one starting with '-', write ${flag}=VALUE)`;
  if (/does not take an argument/.test(msg)) return `flag ${flag} takes no value`;
  return msg.split('\n')[0] ?? msg;
}

export interface ParsedFlags<O extends FlagOptions> {
  readonly values: ReturnType<
    typeof parseArgs<{ options: O; args: string[]; allowPositionals: true; strict: true }>
  >['values'];
  readonly positionals: string[];
}

/** Strict parse of `argv` against `options`; throws UsageError with a suggestion on a typo. */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O): ParsedFlags<O> {
  const unknown = firstUnknownFlag(argv, options);
  if (unknown !== undefined) throw new UsageError(unknownFlagMessage(unknown, options));
  try {
    const res = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: res.values, positionals: res.positionals };
  } catch (err) {
    throw new UsageError(translate(err));
  }
}
