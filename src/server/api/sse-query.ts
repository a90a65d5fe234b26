// The query string of GET /v1/watch, read strictly (session 11 API audit). URLSearchParams turns a
// malformed percent-escape or one that is not UTF-8 (%FF, an encoded surrogate %ED%A0%80) into
// U+FFFD without a word, so `?key=%FF` watched the key "\uFFFD" — a different key from the one the
// client meant, silently. Number() read `rev=0x10` as 16, `rev=1e3` as 1000 and `rev=` as 0. Every
// such request is refused here with invalid_argument instead.
import { Code, ConnectError } from '@connectrpc/connect';

/** A revision as text: decimal digits only, no sign, no leading zeros, at most 2^53 - 1. */
const REVISION_TEXT = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The parameters of a query (`search`, with or without its "?"), each percent-decoded as UTF-8 and
 * "+" read as a space (HTML form encoding, as URLSearchParams does). A parameter given twice, a
 * malformed escape and bytes that are not UTF-8 are refused; so is a name outside `known`.
 */
export function strictQuery(search: string, known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const text = search.startsWith('?') ? search.slice(1) : search;
  if (text === '') return out;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq), 'a parameter name');
    const value = eq < 0 ? '' : decode(part.slice(eq + 1), `parameter '${name}'`);
    if (!known.includes(name))
      throw new ConnectError(`unknown query parameter '${name}' (${known.join(', ')})`, Code.InvalidArgument);
    if (out.has(name)) throw new ConnectError(`query parameter '${name}' is given twice`, Code.InvalidArgument);
    out.set(name, value);
  }
  return out;
}

function decode(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new ConnectError(
      `${what} is not valid percent-encoded UTF-8 (${JSON.stringify(raw.slice(0, 64))}): keys are UTF-8 text; encode each byte of a character's UTF-8 as %XX`,
      Code.InvalidArgument,
    );
  }
}

/** A revision given as text (`rev=N`, Last-Event-ID): decimal digits only, at most 2^53 - 1. */
export function revisionFromText(text: string, what: string): number {
  const n = REVISION_TEXT.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n))
    throw new ConnectError(
      `${what} ${JSON.stringify(text.slice(0, 32))} is not a revision (decimal digits, 0 to ${Number.MAX_SAFE_INTEGER})`,
      Code.InvalidArgument,
    );
  return n;
}

const TRUE = new Set(['1', 'true', 'yes']);
const FALSE = new Set(['0', 'false', 'no']);

/** A yes/no parameter: absent is false; 1/true/yes and 0/false/no; anything else (`prefix=tru`, a bare `prefix`) is refused. */
export function flagFromQuery(q: ReadonlyMap<string, string>, name: string): boolean {
  const v = q.get(name);
  if (v === undefined) return false;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConnectError(
    `query parameter '${name}' is ${JSON.stringify(v.slice(0, 32))}: say true or false`,
    Code.InvalidArgument,
  );
}
