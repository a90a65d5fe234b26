// Layering and purity checks (style.md): dependencies point one way, and the consensus core does no
// I/O, reads no clock, sets no timer and draws no randomness of its own.
// Run: npm run lint. Exit 1 with one line per violation.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which top-level folders under src/ each folder may import from (besides itself). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  raft: [],
  util: [],
  check: [],
  gen: [],
  tools: [],
  storage: ['raft', 'util'],
  transport: ['raft', 'util'],
  kv: ['raft', 'util'],
  sim: ['raft', 'storage', 'kv', 'check', 'util'],
  server: ['raft', 'storage', 'transport', 'kv', 'gen', 'check', 'util'],
  client: ['gen', 'util'],
  cli: ['raft', 'storage', 'transport', 'kv', 'gen', 'check', 'server', 'client', 'sim', 'util'],
  bench: ['raft', 'storage', 'transport', 'kv', 'gen', 'check', 'server', 'client', 'util'],
};

/** Banned in non-test files of src/raft: every way the core could reach the outside world. */
const IMPURE: readonly { re: RegExp; what: string }[] = [
  { re: /from\s+['"]node:/, what: 'imports node:*' },
  { re: /import\(\s*['"]node:/, what: 'imports node:*' },
  { re: /\brequire\s*\(/, what: 'uses require' },
  { re: /\bDate\b/, what: 'uses Date' },
  { re: /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, what: 'sets a timer' },
  { re: /\bMath\.random\b/, what: 'uses Math.random' },
  { re: /\bperformance\b/, what: 'uses performance' },
  { re: /\bprocess\b/, what: 'uses process' },
  { re: /\bcrypto\b/, what: 'uses crypto' },
];

export interface Violation {
  file: string;
  line: number;
  message: string;
}

function stripComments(src: string): string {
  // Keep line structure so that line numbers stay right.
  return src
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Checks one file's text; `path` is relative to src/ with '/' separators. */
export function checkFile(path: string, text: string): Violation[] {
  const out: Violation[] = [];
  const layer = path.split('/')[0] ?? '';
  const isTest = path.endsWith('.test.ts');
  const code = stripComments(text);
  const lines = code.split('\n');
  const allowed = ALLOWED[layer];
  lines.forEach((lineText, i) => {
    const m =
      /^\s*(?:import|export)\b[^'"]*\bfrom\s*['"](\.[^'"]*)['"]/.exec(lineText) ??
      /^\s*import\s*['"](\.[^'"]*)['"]/.exec(lineText) ??
      /^\s*\}\s*from\s*['"](\.[^'"]*)['"]/.exec(lineText) ??
      /\bimport\(\s*['"](\.[^'"]*)['"]/.exec(lineText);
    if (m && m[1] !== undefined && allowed !== undefined) {
      const target = resolveLayer(path, m[1]);
      if (target !== undefined && target in ALLOWED && target !== layer && !allowed.includes(target) && !(isTest && target === 'check')) {
        out.push({ file: path, line: i + 1, message: `${layer}/ may not import ${target}/ (${m[1]})` });
      }
    }
    if (layer === 'raft' && !isTest) {
      for (const { re, what } of IMPURE) {
        if (re.test(lineText)) out.push({ file: path, line: i + 1, message: `consensus core ${what}` });
      }
    }
  });
  return out;
}

function resolveLayer(fromPath: string, spec: string): string | undefined {
  const parts = fromPath.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.length > 1 ? parts[0] : undefined;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

export function checkTree(srcDir: string): Violation[] {
  const out: Violation[] = [];
  for (const file of walk(srcDir, [])) {
    const rel = relative(srcDir, file).split(sep).join('/');
    if (rel.startsWith('gen/')) continue;
    out.push(...checkFile(rel, readFileSync(file, 'utf8')));
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const srcDir = join(fileURLToPath(new URL('.', import.meta.url)), '..');
  const violations = checkTree(srcDir);
  for (const v of violations) console.error(`src/${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) process.exit(1);
  console.log('lint: layering and core purity ok');
}
