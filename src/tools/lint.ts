// The lint that carries the style (docs/design.md): dependencies point one way; the consensus core
// does no I/O, reads no clock, sets no timer, draws no randomness and imports no package; production
// code never imports a test kit and asserts only with util/assert.ts; no import cycles between files;
// a comment that names a *.md file names one in the repository; no source file over MAX_FILE_LINES.
// Run: npm run lint. Exit 1 with one line per violation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCycles } from './lint-cycles.ts';
import { importsOf, resolveSpec, splitSource } from './lint-scan.ts';

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
  host: ['raft', 'storage', 'transport', 'kv', 'util'],
  sim: ['raft', 'storage', 'kv', 'host', 'check', 'util'],
  server: ['raft', 'storage', 'transport', 'kv', 'host', 'gen', 'check', 'util'],
  client: ['gen', 'util'],
  cli: ['raft', 'storage', 'transport', 'kv', 'host', 'gen', 'check', 'server', 'client', 'sim', 'util'],
  bench: ['raft', 'storage', 'transport', 'kv', 'host', 'gen', 'check', 'server', 'client', 'util', 'testkit'],
  // The test kit (process-cluster launcher, waits, ports): test code of every layer and the benchmark use it.
  testkit: ['raft', 'storage', 'transport', 'kv', 'host', 'gen', 'check', 'server', 'client', 'util'],
};

/** Banned in non-test files of src/raft: every way the core could reach the outside world. */
const IMPURE: readonly { re: RegExp; what: string }[] = [
  { re: /\brequire\s*\(/, what: 'uses require' },
  { re: /\bDate\b/, what: 'uses Date' },
  { re: /\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, what: 'sets a timer' },
  { re: /\bMath\.random\b/, what: 'uses Math.random' },
  { re: /\bperformance\b/, what: 'uses performance' },
  { re: /\bprocess\b/, what: 'uses process' },
  { re: /\bcrypto\b/, what: 'uses crypto' },
  { re: /\bfetch\b|\bXMLHttpRequest\b|\bWebSocket\b/, what: 'does network I/O' },
  { re: /\bglobalThis\b/, what: 'uses globalThis' },
  { re: /\bconsole\b/, what: 'uses console' },
];

/**
 * Files of src/util that the consensus core may import: they are held to the core's purity rules.
 */
export const PURE_UTIL: readonly string[] = ['util/assert.ts'];

/**
 * Test code: `*.test.ts`, anything under an `itest/` or `testkit/` folder, and test kits — files
 * whose name says so (`testkit`, `test-*`, `fake`). Everything else is production code and may not
 * import these (the benchmark aside, which may use src/testkit).
 */
export function isTestCode(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return (
    path.endsWith('.test.ts') ||
    `/${path}`.includes('/itest/') ||
    `/${path}`.includes('/testkit/') ||
    /^test[-_]|testkit/.test(base) ||
    /(^|[-_.])fake([-_.]|$)/.test(base)
  );
}

/** The longest a source file under src/ may be, generated code aside: split along seams instead. */
export const MAX_FILE_LINES = 400;

/**
 * Temporary (issue 11): files over MAX_FILE_LINES whose split is under way in the work that owns them.
 * Each entry is removed when its file is split; the list only shrinks.
 */
export const OVERSIZE_ALLOWED: readonly string[] = [];

export interface Violation {
  file: string;
  line: number;
  message: string;
}

export interface CheckOptions {
  /** Whether a path relative to the repository root names a file; default: every path does. */
  readonly repoFileExists?: (repoPath: string) => boolean;
}

/** Checks one file's text; `path` is relative to src/ with '/' separators. */
export function checkFile(path: string, text: string, opts: CheckOptions = {}): Violation[] {
  const out: Violation[] = [];
  const add = (line: number, message: string): void => {
    out.push({ file: path, line, message });
  };
  const layer = path.split('/')[0] ?? '';
  const isTest = path.endsWith('.test.ts');
  const core = (layer === 'raft' || PURE_UTIL.includes(path)) && !isTest;
  const src = splitSource(text);
  const { code, comments } = src;
  const allowed = ALLOWED[layer];
  const production = !isTestCode(path);
  for (const { spec, line } of importsOf(src)) {
    if (production && (spec === 'node:assert' || spec.startsWith('node:assert/'))) {
      add(line, `production code uses ${spec}: assert() from util/assert.ts is the one assertion helper`);
    }
    if (!spec.startsWith('.')) {
      if (core) add(line, `consensus core imports ${spec.startsWith('node:') ? 'node:*' : 'a package'} (${spec})`);
      continue;
    }
    const target = resolveSpec(path, spec);
    if (target === undefined) continue;
    const targetLayer = target.includes('/') ? (target.split('/')[0] ?? '') : '';
    const pureUtil = layer === 'raft' && PURE_UTIL.includes(target);
    if (
      allowed !== undefined &&
      !pureUtil &&
      targetLayer in ALLOWED &&
      targetLayer !== layer &&
      !allowed.includes(targetLayer) &&
      !(isTest && targetLayer === 'check') &&
      !(!production && targetLayer === 'testkit')
    ) {
      add(line, `${layer}/ may not import ${targetLayer}/ (${spec})`);
    }
    const benchKit = layer === 'bench' && targetLayer === 'testkit';
    if (production && isTestCode(target) && !benchKit) add(line, `production code imports test code (${spec})`);
  }
  const lineCount = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lineCount > MAX_FILE_LINES && !path.startsWith('gen/') && !OVERSIZE_ALLOWED.includes(path)) {
    add(lineCount, `${lineCount} lines: a source file has at most ${MAX_FILE_LINES} (split it along its seams)`);
  }
  const lines = code.split('\n');
  if (production) {
    lines.forEach((lineText, i) => {
      if (/\bnew\s+Error\(\s*['"`]assert/.test(lineText))
        add(i + 1, 'ad-hoc assertion: use assert() from util/assert.ts');
    });
  }
  if (core) {
    lines.forEach((lineText, i) => {
      for (const { re, what } of IMPURE) if (re.test(lineText)) add(i + 1, `consensus core ${what}`);
    });
  }
  comments.split('\n').forEach((lineText, i) => {
    for (const doc of citedDocs(lineText)) {
      const candidates = [posix.normalize(doc), posix.join('src', posix.dirname(path), doc)];
      if (!candidates.some((c) => (opts.repoFileExists ?? (() => true))(c))) {
        add(i + 1, `comment cites ${doc}, which is not in the repository`);
      }
    }
  });
  return out;
}

/** The *.md paths a comment line names (URLs left out: they point outside on purpose). */
function citedDocs(commentLine: string): string[] {
  const out: string[] = [];
  for (const word of commentLine.split(/\s+/)) {
    if (word.includes('://')) continue;
    for (const m of word.matchAll(/[\w.\/-]*[\w-]\.md\b/g)) out.push(m[0]);
  }
  return out;
}

/**
 * Checks a whole tree: every file, and the import cycles between them. `files`: path relative to
 * src/ → text.
 */
export function checkSources(files: ReadonlyMap<string, string>, opts: CheckOptions = {}): Violation[] {
  const out: Violation[] = [];
  const graph = new Map<string, string[]>();
  for (const [path, text] of files) {
    out.push(...checkFile(path, text, opts));
    const deps: string[] = [];
    for (const { spec } of importsOf(splitSource(text))) {
      const target = spec.startsWith('.') ? resolveSpec(path, spec) : undefined;
      if (target !== undefined && files.has(target)) deps.push(target);
    }
    graph.set(path, deps);
  }
  for (const { cycle } of findCycles(graph)) {
    out.push({ file: cycle[0] ?? '', line: 1, message: `import cycle: ${cycle.join(' → ')}` });
  }
  return out;
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
  const files = new Map<string, string>();
  for (const file of walk(srcDir, [])) {
    const rel = relative(srcDir, file).split(sep).join('/');
    if (rel.startsWith('gen/')) continue;
    files.set(rel, readFileSync(file, 'utf8'));
  }
  const repoDir = dirname(srcDir);
  return checkSources(files, { repoFileExists: (p) => existsSync(join(repoDir, p)) });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const srcDir = join(fileURLToPath(new URL('.', import.meta.url)), '..');
  const violations = checkTree(srcDir);
  for (const v of violations) console.error(`src/${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) process.exit(1);
  console.log('lint: layering, core purity, test kits, import cycles, cited documents and file sizes ok');
}
