// `npm run bench`: starts fresh clusters, runs closed-loop clients, prints one table with every
// system side by side (leasekv per read mode, etcd, the bare node:http floor), ratios, and writes
// JSON and an SVG chart. Numbers, never assertions: see docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchArgsError, parseArgs, USAGE, wantsHelp } from './args.ts';
import type { BenchArgs } from './args.ts';
import { chartSvg, table, type Row } from './report.ts';
import { failoverScenario, loadScenario, type FailoverResult } from './scenarios.ts';
import { scaleReport, scaleScenario, type ScaleResult } from './scale.ts';
import { etcdAvailable, setLeasekvEntry } from './systems.ts';
import { setLoadClient } from './load.ts';
import { REPO_ROOT } from '../testkit/proc.ts';
import { medians, membershipScenario, type ChangePause } from './membership.ts';
import { targetsScenario, targetsTable, type TargetLine } from './targets.ts';
import { abuseScenario, abuseTable, type AbuseRow } from './abuse.ts';
import { coordScenario, type CoordResult } from './coord.ts';
import { authReport, authScenario, type AuthRow } from './auth-bench.ts';

function progressBar(label: string): (fraction: number) => void {
  if (!process.stderr.isTTY) return () => {};
  return (fr) => {
    const n = Math.round(fr * 30);
    process.stderr.write(
      `\r${label.padEnd(24)} [${'#'.repeat(n)}${'.'.repeat(30 - n)}] ${(fr * 100).toFixed(0).padStart(3)}%${fr >= 1 ? '\n' : ''}`,
    );
  };
}

function fmtLoad(l: readonly number[] | undefined): string {
  return (l ?? []).map((x) => x.toFixed(1)).join(' / ');
}

function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM (${(freemem() / 2 ** 30).toFixed(0)} free), Node ${process.version}`;
}

function ratios(rows: readonly Row[]): string[] {
  const find = (system: string, mode: string, op: 'get' | 'put'): Row | undefined =>
    rows.find((r) => r.system === system && r.mode === mode && r.op === op);
  const out: string[] = [];
  const lease = find('leasekv', 'lease', 'get');
  const cmp = (name: string, a: Row | undefined, b: Row | undefined, what: 'p50' | 'ops'): void => {
    if (a === undefined || b === undefined) return;
    const v = what === 'p50' ? a.p50Ms / b.p50Ms : a.opsPerSec / b.opsPerSec;
    out.push(`${name}: ${v.toFixed(2)}×`);
  };
  cmp('leasekv lease-read p50 / leasekv stale-read p50', lease, find('leasekv', 'stale', 'get'), 'p50');
  cmp('leasekv lease-read p50 / floor p50', lease, find('floor', 'map', 'get'), 'p50');
  cmp('leasekv lease-read p50 / etcd linearizable p50', lease, find('etcd', 'linearizable', 'get'), 'p50');
  cmp('leasekv lease-read p50 / leasekv readindex p50', lease, find('leasekv', 'readindex', 'get'), 'p50');
  cmp(
    'leasekv stale-read p50 / etcd serializable p50',
    find('leasekv', 'stale', 'get'),
    find('etcd', 'serializable', 'get'),
    'p50',
  );
  cmp('leasekv write ops/s / etcd write ops/s', find('leasekv', 'write', 'put'), find('etcd', 'write', 'put'), 'ops');
  return out;
}

/**
 * The nodes run compiled JavaScript, as a packed install does (bin/leasekv.mjs): built once per
 * run into a folder of this run's own under the repository's tmp/ (so that the packages resolve
 * from node_modules, and an edit or a rebuild of dist/ during a long run changes nothing a node
 * restarted later runs); removed at exit. LEASEKV_RUN=source runs them from the sources through tsx.
 */
function prepareNodes(): string {
  if (process.env['LEASEKV_RUN'] === 'source') return 'TypeScript sources through tsx (LEASEKV_RUN=source)';
  const out = join(REPO_ROOT, 'tmp', `bench-build-${process.pid}`);
  process.on('exit', () => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--out', out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  setLeasekvEntry(join(out, 'cli', 'main.js'));
  return `compiled (scripts/build.mjs --out ${out}; LEASEKV_RUN=source for the sources)`;
}

async function main(args: BenchArgs): Promise<void> {
  if (args.againstEtcd && !etcdAvailable()) {
    throw new BenchArgsError('--against etcd needs the etcd binary: apt-get install etcd-server');
  }
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-bench-'));
  // A scale run leaves ~0.5 GB of node data here: removed at exit unless asked to keep it.
  if (!args.keepWorkDir) process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(args.outDir, { recursive: true });
  const say = (l: string): void => console.log(l);
  const ctx = { args, dir, say, progress: progressBar };
  say(`machine: ${machine()}`);
  say(`leasekv nodes: ${prepareNodes()}`);
  setLoadClient(args.loadClient);
  say(
    `load generator: this process, ${args.loadClient === 'lean' ? 'the lean HTTP/1.1 client on node:net (answers checked; --load-client node-http for node:http)' : 'node:http with a keep-alive agent (--load-client node-http; status checked only)'} for plaintext, the same for every system; node:https for TLS`,
  );
  say(
    `workload: ${args.nodes} nodes, ${args.clients} clients, ${args.durationS} s, ${args.valueBytes}-byte values, reads ${(args.readFraction * 100).toFixed(0)}%, peer delay ${args.peerDelayMs} ms one-way; work dir ${dir}${args.keepWorkDir ? ' (kept)' : ' (removed at exit; --keep-work-dir keeps it)'}`,
  );
  const result: {
    machine: string;
    args: BenchArgs;
    rows?: Row[];
    failover?: FailoverResult[];
    scale?: ScaleResult;
    membership?: ChangePause[][];
    targets?: TargetLine[];
    loadAverage?: { start: number[]; end?: number[] };
    abuse?: AbuseRow[];
    coord?: CoordResult;
    auth?: AuthRow[];
  } = { machine: machine(), args, loadAverage: { start: loadavg() } };
  if (args.scenarios.includes('load')) {
    const rows = await loadScenario(ctx);
    result.rows = rows;
    say('');
    say(table(rows));
    for (const r of ratios(rows)) say(`  ${r}`);
    const svg = chartSvg(rows, `latency, ${args.clients} clients, peer delay ${args.peerDelayMs} ms`);
    const svgPath = join(
      args.outDir,
      `latency-d${args.peerDelayMs}-c${args.clients}-r${Math.round(args.readFraction * 100)}.svg`,
    );
    writeFileSync(svgPath, svg);
    say(`chart: ${svgPath}`);
  }
  if (args.scenarios.includes('failover')) {
    say('failover: kill -9 the leader under a trickle of writes and reads');
    const f = await failoverScenario(ctx);
    result.failover = f;
    for (const system of new Set(f.map((x) => x.system))) {
      const xs = f.filter((x) => x.system === system);
      const med = (v: number[]): number => v.sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
      say(
        `  ${system}: median writes resume ${med(xs.map((x) => x.writesResumeMs)).toFixed(0)} ms, linearizable reads ${med(xs.map((x) => x.readsResumeMs)).toFixed(0)} ms (of ${xs.length})`,
      );
    }
  }
  if (args.scenarios.includes('scale')) {
    say(`scale: ${args.scaleKeys} keys`);
    const s = await scaleScenario(ctx);
    result.scale = s;
    for (const line of scaleReport(s)) say(line);
  }
  if (args.scenarios.includes('membership')) {
    say(
      `membership: linearizable-read (lease when held) and write probes (closed loop, every ~5 ms) through each kind of change, ${args.rounds} round(s)`,
    );
    const m = await membershipScenario(dir, args.rounds, say);
    result.membership = m;
    say(`  median of ${m.length} round(s):`);
    say(
      '  | change | change latency ms | longest gap, linearizable reads ms | of them lease-served ms | longest gap, writes ms |',
    );
    say('  |---|---:|---:|---:|---:|');
    for (const p of medians(m))
      say(
        `  | ${p.change} | ${p.changeMs.toFixed(0)} | ${p.maxReadGapMs.toFixed(0)} | ${p.maxLeaseReadGapMs.toFixed(0)} | ${p.maxWriteGapMs.toFixed(0)} |`,
      );
  }
  if (args.scenarios.includes('targets')) {
    if (!etcdAvailable())
      throw new BenchArgsError('--scenario targets needs the etcd binary: apt-get install etcd-server');
    const t = await targetsScenario(ctx);
    result.targets = t;
    say('');
    say(
      `issue 16 targets (ratios from this run; load average at start ${fmtLoad(result.loadAverage?.start)}, now ${fmtLoad(loadavg())}):`,
    );
    say(targetsTable(t));
    const missed = t.filter((l) => !l.met);
    say(missed.length === 0 ? 'every target met' : `${missed.length} of ${t.length} targets NOT met`);
  }
  if (args.scenarios.includes('abuse')) {
    say(
      `abuse: 3 nodes, ${args.abuseLoadClients} closed-loop clients (90% Get, 10% Put) throughout; a lease-read and a write probe every 100 ms (own process); one attack at a time from 127.0.0.2`,
    );
    const rows = await abuseScenario(ctx);
    result.abuse = rows;
    say('');
    say(abuseTable(rows));
  }
  if (args.scenarios.includes('watch') || args.scenarios.includes('txn'))
    result.coord = await coordScenario(ctx, {
      watch: args.scenarios.includes('watch'),
      txn: args.scenarios.includes('txn'),
    });
  if (args.scenarios.includes('tls') || args.scenarios.includes('auth')) {
    say('');
    say(
      `TLS+auth off / on: two 3-node clusters side by side, ${args.clients} clients of lease reads, then of writes, on each leader over keep-alive connections (HTTPS when on), off/on alternating`,
    );
    result.auth = await authScenario(ctx);
    say('');
    say(
      `TLS and auth (issue 15; load average at start ${fmtLoad(result.loadAverage?.start)}, now ${fmtLoad(loadavg())}):`,
    );
    say(authReport(result.auth));
  }
  if (result.loadAverage !== undefined) result.loadAverage.end = loadavg();
  const jsonPath = join(args.outDir, `bench-${Date.now()}.json`);
  writeFileSync(jsonPath, JSON.stringify(result, null, 2));
  say(`results: ${jsonPath}`);
}

if (wantsHelp(process.argv.slice(2))) {
  console.log(USAGE);
  process.exit(0);
}
try {
  const args = parseArgs(process.argv.slice(2));
  await main(args);
} catch (e) {
  if (e instanceof BenchArgsError) {
    console.error(`bench: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  throw e;
}
