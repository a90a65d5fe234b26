// `node --import tsx src/bench/profile-summary.ts FILE.cpuprofile... [--from-ms N]`: where a V8 CPU
// profile (node --cpu-prof, `npm run bench -- --cpu-prof DIR`) spent its time, by the layer the code
// belongs to and by function (self time). Samples before --from-ms (e.g. start-up and preload), or
// all but the last --last-ms (the measured run at the end), are left out. Used for docs/benchmarks.md, "Writes".
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The layer a function belongs to, from its script URL (first match wins). */
const LAYERS: readonly [string, RegExp][] = [
  ['raft core', /\/src\/raft\//],
  ['host / drive loop', /\/src\/(host|server\/node)/],
  ['client API (HTTP, JSON, Connect)', /\/src\/server\/api\/|node:_http|node:internal\/http|@connectrpc|llhttp/],
  ['peer transport', /\/src\/transport\//],
  ['storage (WAL, worker hand-off)', /\/src\/storage\//],
  ['kv state machine', /\/src\/kv\//],
  ['logging, metrics', /pino|prom-client|\/metrics/],
  ['module loading (start-up)', /modules\/(esm|cjs)|tsx|esbuild|bootstrap\/realm/],
];

function layerOf(n: ProfileNode): string {
  const { url, functionName } = n.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (url === '' && /^(writev|writeBuffer|writeUtf8String|fsync|postMessage|read)/.test(functionName))
    return `native I/O (${functionName})`;
  for (const [name, re] of LAYERS) if (re.test(url)) return name;
  return url.startsWith('node:') ? 'other Node internals' : url === '' ? 'other native / (program)' : 'other';
}

export function summarize(
  p: Profile,
  fromMsOrLast: number,
): { totalMs: number; layers: [string, number][]; functions: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // A negative bound counts back from the end of the profile (--last-ms).
  const span = p.timeDeltas.reduce((a, d) => a + d, 0) / 1000;
  const fromMs = fromMsOrLast < 0 ? span + fromMsOrLast : fromMsOrLast;
  const layers = new Map<string, number>();
  const functions = new Map<string, number>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const d = (p.timeDeltas[i] ?? 0) / 1000;
    t += d;
    if (t < fromMs) continue;
    const n = byId.get(p.samples[i] as number);
    if (n === undefined) continue;
    const l = layerOf(n);
    layers.set(l, (layers.get(l) ?? 0) + d);
    const cf = n.callFrame;
    const fn = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}`.trim();
    if (l !== 'idle') functions.set(fn, (functions.get(fn) ?? 0) + d);
    total += d;
  }
  const desc = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: total, layers: desc(layers), functions: desc(functions).slice(0, 25) };
}

function main(argv: readonly string[]): void {
  const i = argv.findIndex((a) => a === '--from-ms' || a === '--last-ms');
  const fromMs = i < 0 ? 0 : argv[i] === '--last-ms' ? -Number(argv[i + 1]) : Number(argv[i + 1]);
  const files = argv.filter((_, j) => i < 0 || (j !== i && j !== i + 1));
  if (files.length === 0 || !Number.isFinite(fromMs)) {
    console.error('usage: profile-summary.ts FILE.cpuprofile... [--from-ms N | --last-ms N]');
    process.exit(2);
  }
  for (const f of files) {
    const s = summarize(JSON.parse(readFileSync(f, 'utf8')) as Profile, fromMs);
    const busy = s.layers.filter(([l]) => l !== 'idle').reduce((a, [, v]) => a + v, 0);
    console.log(`${f}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${((100 * busy) / s.totalMs).toFixed(0)}% busy`);
    for (const [l, v] of s.layers)
      console.log(
        `  ${((100 * v) / s.totalMs).toFixed(1).padStart(5)}%  ${l}${l === 'idle' ? '' : ` (${((100 * v) / busy).toFixed(0)}% of busy)`}`,
      );
    console.log('  top functions (self time, % of busy):');
    for (const [fn, v] of s.functions) console.log(`  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${fn}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
