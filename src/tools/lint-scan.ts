// Source scanning for the lint: splits a file into its code and its comments (each the same length
// as the file, the other part blanked, newlines kept so that line numbers stay right), and lists the
// module specifiers a file imports. A small lexer, not a parser: it knows strings, template literals,
// regular-expression literals and comments, which is all the lint rules need.

export interface SplitSource {
  /** The file with comments blanked (strings kept). */
  readonly code: string;
  /** The file with everything but comments blanked. */
  readonly comments: string;
  /** `code` with the insides of strings, templates and regular expressions blanked (delimiters kept). */
  readonly bare: string;
}

const blank = (s: string): string => s.replace(/[^\n]/g, ' ');

/** Characters after which a '/' starts a regular expression rather than a division. */
const REGEX_AFTER = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const REGEX_AFTER_WORD = /\b(?:return|typeof|case|of|in|do|else|void|yield|await)$/;

export function splitSource(text: string): SplitSource {
  let code = '';
  let comments = '';
  let bare = '';
  const braces: number[] = []; // per open template `${`: the brace depth at which it closes
  let depth = 0;
  let i = 0;
  const take = (end: number, kind: 'code' | 'comment' | 'literal'): void => {
    const s = text.slice(i, end);
    code += kind === 'comment' ? blank(s) : s;
    comments += kind === 'comment' ? s : blank(s);
    bare +=
      kind === 'code'
        ? s
        : kind === 'comment'
          ? blank(s)
          : s.length < 2
            ? s
            : s[0] + blank(s.slice(1, -1)) + s.slice(-1);
    i = end;
  };
  const lastCode = (): string => code.trimEnd();
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const nl = text.indexOf('\n', i);
      take(nl === -1 ? text.length : nl, 'comment');
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      take(end === -1 ? text.length : end + 2, 'comment');
    } else if (c === '"' || c === "'") {
      take(endOfQuoted(text, i, c), 'literal');
    } else if (c === '`' || (c === '}' && braces.length > 0 && braces[braces.length - 1] === depth)) {
      if (c === '}') braces.pop();
      const { end, opensExpr } = endOfTemplatePart(text, i);
      if (opensExpr) braces.push(depth);
      take(end, 'literal');
    } else if (c === '/' && isRegexStart(lastCode())) {
      take(endOfRegex(text, i), 'literal');
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      take(i + 1, 'code');
    }
  }
  return { code, comments, bare };
}

function isRegexStart(before: string): boolean {
  if (before === '') return true;
  return REGEX_AFTER.has(before[before.length - 1] ?? '') || REGEX_AFTER_WORD.test(before);
}

function endOfQuoted(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length && text[i] !== quote && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/** From a '`' or the '}' closing a `${`, to the closing '`' or the next '${' (inclusive). */
function endOfTemplatePart(text: string, start: number): { end: number; opensExpr: boolean } {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '`') return { end: i + 1, opensExpr: false };
    else if (text[i] === '$' && text[i + 1] === '{') return { end: i + 2, opensExpr: true };
    else i++;
  }
  return { end: text.length, opensExpr: false };
}

function endOfRegex(text: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < text.length && text[i] !== '\n') {
    const c = text[i];
    if (c === '\\') i += 2;
    else {
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
      i++;
    }
  }
  while (i + 1 < text.length && /[a-z]/.test(text[i + 1] ?? '')) i++;
  return Math.min(i + 1, text.length);
}

export interface ImportRef {
  readonly spec: string;
  /** 1-based line of the specifier. */
  readonly line: number;
  /** `import type` / `export type`: erased at run time (still an edge for cycles). */
  readonly typeOnly: boolean;
}

/** Every static and dynamic import / re-export specifier in a file (none inside strings or comments). */
export function importsOf(src: SplitSource): ImportRef[] {
  const out: ImportRef[] = [];
  // Matched on `bare`, so that the keyword is real code; the specifier is read from `code`.
  const re = /\b(import|export)(\s+type\b)?(?:[^'"`;()]*?\bfrom)?\s*['"]([^'"]*)['"]|\bimport\(\s*['"]([^'"]*)['"]/dg;
  for (const m of src.bare.matchAll(re)) {
    const at = m.indices?.[3] ?? m.indices?.[4];
    if (at === undefined) continue;
    const spec = src.code.slice(at[0], at[1]);
    out.push({ spec, line: src.code.slice(0, at[0]).split('\n').length, typeOnly: m[2] !== undefined });
  }
  return out;
}

/**
 * Resolves a relative specifier against `fromPath` (both relative to src/, '/' separators); undefined
 * when it leads out of src/.
 */
export function resolveSpec(fromPath: string, spec: string): string | undefined {
  const parts = fromPath.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') {
      if (parts.pop() === undefined) return undefined;
    } else if (seg !== '.') parts.push(seg);
  }
  return parts.join('/');
}
