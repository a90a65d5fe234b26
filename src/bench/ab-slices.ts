// `node --import tsx src/bench/ab-slices.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS]`: an A/B of the
// write path that the shared machine's load hits alike on both sides — two 3-node leasekv clusters,
// each started from its own checkout (DIR_A, DIR_B: worktrees at the builds to compare; each must
// have this file's cpu.ts and load.ts), side by side, writes only (100-byte values, 1000 keys), in
// alternating slices (A B, B A, ...). Per side: writes/s, the nodes' CPU time per write (every thread
// of the three processes, from /proc) and the median of the slices' p50. BENCH_NODE_ARGS_A /
// BENCH_NODE_ARGS_B add node options to one side (e.g. a V8 flag against none), BENCH_SERVE_FLAGS_A /
// _B `serve` flags (JSON: {"watch-history": 1}). Used for docs/benchmarks.md, "Write path",
// sessions 5, 6 and 10.
// A round (one slice of each side) in which either side had errors — under load the side started
// first can lose its leader while the other starts, or later — is dropped from every figure, and
// that side's leader is found again (with an unrecorded warm-up slice) before the next round. The
// clusters' folder (/tmp/leasekv-ab-*) is removed at the end, on an error, and on SIGINT/SIGTERM.
// Before the first round each side gets AB_WARMUP_S seconds of writes (default 10, in alternating
// slices, not recorded): a member's CPU per write falls by a third or more over its first ~10 s
// under load while V8 optimizes the hot code (docs/benchmarks.md, "Write path, session 10"), and
// rounds taken during that fall are noise to the comparison.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgent, preload, runWrites } from './load.ts';
import { cpuPerOp, sampleCpu } from './cpu.ts';
import type { Cluster } from './systems.ts';

type AbCluster = Cluster & { stop(): Promise<void> };

interface Side {
  readonly name: string;
  readonly dir: string;
  readonly cluster: AbCluster;
  /** The current leader's client port (found again after a round with errors). */
  port: number;
  readonly agent: ReturnType<typeof loadAgent>;
  ops: number;
  ms: number;
  cpuMs: number;
  readonly p50s: number[];
  /** Each kept round's nodes' CPU per write, µs (index i: the same round as the other side's). */
  readonly cpuPerWrite: number[];
}

/** One slice's figures, kept only if neither side of its round had errors. */
interface SliceResult {
  readonly ops: number;
  readonly ms: number;
  readonly cpuMs: number;
  readonly p50Ms: number;
  readonly errors: number;
}

async function start(dir: string, name: string, work: string, clients: number, clusters: AbCluster[]): Promise<Side> {
  // The other checkout's own launcher, so that its nodes run its code.
  const sys = (await import(join(dir, 'src/bench/systems.ts'))) as typeof import('./systems.ts');
  const nodeArgs = (process.env[`BENCH_NODE_ARGS_${name}`] ?? '').split(' ').filter((a) => a !== '');
  const flags = process.env[`BENCH_SERVE_FLAGS_${name}`];
  const cluster = await sys.startLeasekv({
    nodes: 3,
    peerDelayMs: 0,
    dir: join(work, name),
    log: () => {},
    leaseReads: true,
    nodeArgs,
    ...(flags === undefined ? {} : { settings: JSON.parse(flags) as Record<string, string | number | boolean> }),
  });
  clusters.push(cluster); // stopped by main() from here on, whatever happens next
  const port = (await cluster.leader()).clientPort;
  // Every member's port: the leader may change during the preload too.
  await preload([port, ...cluster.members.map((m) => m.clientPort).filter((p) => p !== port)], 1000, 100, cluster.put);
  return {
    name,
    dir,
    cluster,
    port: (await cluster.leader()).clientPort,
    agent: loadAgent(clients),
    ops: 0,
    ms: 0,
    cpuMs: 0,
    p50s: [],
    cpuPerWrite: [],
  };
}

async function slice(s: Side, ms: number, clients: number): Promise<SliceResult> {
  const pids = s.cluster.members.map((m) => m.pid);
  const before = sampleCpu(pids);
  const r = await runWrites(s.port, s.agent, clients, ms, s.cluster.put);
  const c = cpuPerOp(before, sampleCpu(pids), 1);
  if (r.errors > 0) console.log(`${s.name}: ${r.errors} errors (first: ${r.firstError})`);
  return {
    ops: r.put.totalCount,
    ms: r.elapsedMs,
    cpuMs: c.members.reduce((a, b) => a + b, 0) / 1000,
    p50Ms: r.put.getValueAtPercentile(50) / 1000,
    errors: r.errors,
  };
}

function keep(s: Side, r: SliceResult): void {
  s.ops += r.ops;
  s.ms += r.ms;
  s.cpuMs += r.cpuMs;
  s.cpuPerWrite.push(r.ops > 0 ? (r.cpuMs * 1000) / r.ops : NaN);
  s.p50s.push(r.p50Ms);
}

/** After a slice with errors: the side's leader again (it may have moved), and a warm-up slice at it. */
async function refind(s: Side, ms: number, clients: number): Promise<void> {
  const port = (await s.cluster.leader()).clientPort;
  if (port !== s.port) console.log(`${s.name}: leader moved (client port ${s.port} → ${port})`);
  s.port = port;
  await slice(s, ms, clients);
}

async function rounds(sides: readonly [Side, Side], slices: number, ms: number, clients: number): Promise<number> {
  let dropped = 0;
  for (let i = 0; i < slices; i++) {
    const order = i % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
    const results = new Map<Side, SliceResult>();
    for (const s of order) results.set(s, await slice(s, ms, clients));
    const failed = sides.filter((s) => (results.get(s) as SliceResult).errors > 0);
    if (failed.length === 0) {
      for (const s of sides) keep(s, results.get(s) as SliceResult);
      continue;
    }
    dropped++;
    console.log(`round ${i + 1}: dropped (errors on ${failed.map((s) => s.name).join(' and ')})`);
    for (const s of failed) await refind(s, ms, clients);
  }
  return dropped;
}

function report(sides: readonly [Side, Side], dropped: number): void {
  for (const s of sides) {
    const p50 = [...s.p50s].sort((a, b) => a - b)[Math.floor(s.p50s.length / 2)] ?? NaN;
    console.log(
      `${s.name} ${s.dir}: ${(s.ops / (s.ms / 1000)).toFixed(0)} writes/s, nodes' CPU ${((s.cpuMs * 1000) / s.ops).toFixed(0)} µs/write, median slice p50 ${p50.toFixed(1)} ms (load ${loadavg()[0]?.toFixed(1)})`,
    );
  }
  // Robust to a load spike that hits one slice: the median over rounds of B's CPU per write over A's
  // in the same round (the two slices of a round run back to back).
  const [a, b] = sides;
  const ratios = a.cpuPerWrite.map((x, i) => (b.cpuPerWrite[i] ?? NaN) / x).filter((r) => Number.isFinite(r));
  const median = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)] ?? NaN;
  const better = ratios.filter((r) => r < 1).length;
  console.log(
    `B/A nodes' CPU per write, median over ${ratios.length} rounds: ${median.toFixed(3)} (B lower in ${better} of ${ratios.length})` +
      (dropped > 0 ? `; ${dropped} round(s) with errors dropped` : ''),
  );
}

async function main(argv: readonly string[]): Promise<void> {
  const [dirA, dirB, slices = '8', sliceMs = '1000', clients = '64'] = argv;
  if (dirA === undefined || dirB === undefined) {
    console.error('usage: ab-slices.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS]');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'leasekv-ab-'));
  const clusters: AbCluster[] = [];
  const agents: ReturnType<typeof loadAgent>[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const a of agents) a.destroy();
      await Promise.allSettled(clusters.map((c) => c.stop()));
      rmSync(work, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`ab-slices: ${sig}, stopping the clusters`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const n = Number(clients);
  const ms = Number(sliceMs);
  try {
    const a = await start(dirA, 'A', work, n, clusters);
    agents.push(a.agent);
    const b = await start(dirB, 'B', work, n, clusters);
    agents.push(b.agent);
    const sides = [a, b] as const;
    // Warm-up; a side whose leader was lost while the other started is found again here.
    const warmupSlices = Math.max(1, Math.ceil((Number(process.env['AB_WARMUP_S'] ?? '10') * 1000) / ms));
    for (let i = 0; i < warmupSlices; i++)
      for (const s of sides) if ((await slice(s, ms, n)).errors > 0) await refind(s, ms, n);
    report(sides, await rounds(sides, Number(slices), ms, n));
  } finally {
    await cleanUp();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
