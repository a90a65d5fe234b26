// Output formats shared by the commands that print results (issue 10), as etcdctl's -w:
//   simple  one line per result (the default for most commands),
//   table   aligned columns with a header,
//   json    the full result as JSON.
// Text fields that could break a line-oriented reader (tabs, newlines, other control characters)
// are printed as JSON strings, so every line of simple or table output is one result.
import { UsageError } from './flags.ts';
import { assert } from '../../util/assert.ts';

export const FORMATS = ['simple', 'table', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** Checks a -w value against the formats a command offers. */
export function parseFormat(text: string, allowed: readonly Format[] = FORMATS): Format {
  if ((allowed as readonly string[]).includes(text)) return text as Format;
  const known = (FORMATS as readonly string[]).includes(text);
  const list = allowed.join(', ');
  throw new UsageError(
    known
      ? `-w ${text} is not offered by this command (use one of: ${list})`
      : `unknown output format '${text}' for -w/--write-out (use one of: ${list})`,
  );
}

const NEEDS_QUOTES = /[\x00-\x1f\x7f\u2028\u2029]/;

/**
 * `s` as is when a line-oriented reader can take it literally; otherwise as a JSON string. Quoted
 * when it holds a control character (tab, newline, ...), starts with `"` (so a leading quote always
 * means "JSON string follows"), or is empty (shown as "").
 */
export function field(s: string): string {
  return s === '' || s.startsWith('"') || NEEDS_QUOTES.test(s) ? JSON.stringify(s) : s;
}

/** Aligned columns, two spaces apart; the last column is not padded. Cells go through field(). */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((r) => r.map((c) => field(c)));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...cells.map(line)].join('\n')}\n`;
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

export interface Renderers {
  readonly simple?: () => string;
  readonly table?: () => string;
  readonly json: () => unknown;
}

/** Prints a result in `format` (simple and table are whole text, newline included). */
export function emit(format: Format, r: Renderers): void {
  if (format === 'json') return printJson(r.json());
  const render = format === 'table' ? r.table : r.simple;
  assert(render !== undefined, `no ${format} renderer`);
  process.stdout.write(render());
}
