// `node --import tsx src/bench/ab-slices.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS]`: an A/B of the
// write path that the shared machine's load hits alike on both sides — two 3-node leasekv clusters,
// each started from its own checkout (DIR_A, DIR_B: worktrees at the builds to compare; each must
// have this file's cpu.ts and load.ts), side by side, writes only (100-byte values, 1000 keys), in
// alternating slices (A B, B A, ...). Per side: writes/s, the nodes' CPU time per write (every thread
// of the three processes, from /proc) and the median of the slices' p50. BENCH_NODE_ARGS_A /
// BENCH_NODE_ARGS_B add node options to one side (e.g. a V8 flag against none), BENCH_SERVE_FLAGS_A /
// _B `serve` flags (JSON: {"watch-history": 1}). Used for docs/benchmarks.md, "Write path",
// sessions 5 and 6.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgent, preload, runWrites } from './load.ts';
import { cpuPerOp, sampleCpu } from './cpu.ts';
import type { Cluster } from './systems.ts';

interface Side {
  readonly name: string;
  readonly dir: string;
  readonly cluster: Cluster & { stop(): Promise<void> };
  readonly port: number;
  readonly agent: ReturnType<typeof loadAgent>;
  ops: number;
  ms: number;
  cpuMs: number;
  readonly p50s: number[];
  /** Each recorded slice's nodes' CPU per write, µs (paired with the other side's slice of the same round). */
  readonly cpuPerWrite: number[];
}

async function start(dir: string, name: string, work: string, clients: number): Promise<Side> {
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
  const port = (await cluster.leader()).clientPort;
  await preload(port, 1000, 100, cluster.put);
  return { name, dir, cluster, port, agent: loadAgent(clients), ops: 0, ms: 0, cpuMs: 0, p50s: [], cpuPerWrite: [] };
}

async function slice(s: Side, ms: number, clients: number, record: boolean): Promise<void> {
  const pids = s.cluster.members.map((m) => m.pid);
  const before = sampleCpu(pids);
  const r = await runWrites(s.port, s.agent, clients, ms, s.cluster.put);
  if (!record) return;
  const c = cpuPerOp(before, sampleCpu(pids), 1);
  s.ops += r.put.totalCount;
  s.ms += r.elapsedMs;
  const cpuMs = c.members.reduce((a, b) => a + b, 0) / 1000;
  s.cpuMs += cpuMs;
  s.cpuPerWrite.push(r.put.totalCount > 0 ? (cpuMs * 1000) / r.put.totalCount : NaN);
  s.p50s.push(r.put.getValueAtPercentile(50) / 1000);
  if (r.errors > 0) console.log(`${s.name}: ${r.errors} errors (first: ${r.firstError})`);
}

async function main(argv: readonly string[]): Promise<void> {
  const [dirA, dirB, slices = '8', sliceMs = '1000', clients = '64'] = argv;
  if (dirA === undefined || dirB === undefined) {
    console.error('usage: ab-slices.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS]');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'leasekv-ab-'));
  const n = Number(clients);
  const sides = [await start(dirA, 'A', work, n), await start(dirB, 'B', work, n)];
  try {
    for (const s of sides) await slice(s, Number(sliceMs), n, false); // warm-up
    for (let i = 0; i < Number(slices); i++)
      for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await slice(s, Number(sliceMs), n, true);
    for (const s of sides) {
      const p50 = [...s.p50s].sort((a, b) => a - b)[Math.floor(s.p50s.length / 2)] ?? NaN;
      console.log(
        `${s.name} ${s.dir}: ${(s.ops / (s.ms / 1000)).toFixed(0)} writes/s, nodes' CPU ${((s.cpuMs * 1000) / s.ops).toFixed(0)} µs/write, median slice p50 ${p50.toFixed(1)} ms (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
    // Robust to a load spike that hits one slice: the median over rounds of B's CPU per write over A's
    // in the same round (the two slices of a round run back to back).
    const [a, b] = sides as [Side, Side];
    const ratios = a.cpuPerWrite.map((x, i) => (b.cpuPerWrite[i] ?? NaN) / x).filter((r) => Number.isFinite(r));
    const median = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)] ?? NaN;
    const better = ratios.filter((r) => r < 1).length;
    console.log(
      `B/A nodes' CPU per write, median over ${ratios.length} rounds: ${median.toFixed(3)} (B lower in ${better} of ${ratios.length})`,
    );
  } finally {
    for (const s of sides) {
      s.agent.destroy();
      await s.cluster.stop();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
