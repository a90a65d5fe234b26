// `node --import tsx src/bench/loadgen-ab.ts [ROUNDS] [SLICE_MS] [CLIENTS] [A,B]`: the load generator's
// two HTTP clients (load.ts: A,B = lean,node-http by default; lean,lean for an A/A) side by side against a 3-node leasekv cluster and a
// 3-member etcd 3.4, both running throughout, in alternating slices of closed-loop writes (100-byte
// values, 1000 keys; default 10 rounds of 2 s, 64 clients). A round is one slice of each client
// against each system, in an order that alternates (lean first in even rounds, leasekv first in the
// first half). Per system and client: writes/s, the generator's and the members' CPU per write
// (medians of the rounds) — and per client the leasekv/etcd write ratio of each round, the figure
// the targets scenario holds to 2×. Warm-up: AB_WARMUP_S seconds per system (default 15), both
// clients in turn. Used for docs/benchmarks.md, "Benchmark client, session 14 (loadgen)".
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuPerOp, sampleCpu } from './cpu.ts';
import { httpAgent, LOAD_CLIENTS, preload, runWrites, type LoadAgent, type LoadClient } from './load.ts';
import { LeanPool } from './lean-http.ts';
import { startEtcd, startLeasekv, type Cluster } from './systems.ts';

interface Slice {
  readonly opsPerSec: number;
  readonly genUs: number;
  readonly membersUs: number;
  readonly errors: number;
}

const median = (v: readonly number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

async function slice(c: Cluster, agent: LoadAgent, ms: number, clients: number): Promise<Slice> {
  const port = (await c.leader()).clientPort;
  const pids = c.members.map((m) => m.pid);
  const before = sampleCpu(pids);
  const r = await runWrites(port, agent, clients, ms, c.put);
  const n = r.put.totalCount;
  const cpu = cpuPerOp(before, sampleCpu(pids), n);
  if (r.errors > 0) console.log(`  ${c.name}: ${r.errors} errors (first: ${r.firstError})`);
  return {
    opsPerSec: (n * 1000) / r.elapsedMs,
    genUs: cpu.self,
    membersUs: cpu.members.reduce((a, b) => a + b, 0),
    errors: r.errors,
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const [rounds = '10', sliceMs = '2000', clients = '64', pair = 'lean,node-http'] = argv;
  const n = Number(clients);
  const ms = Number(sliceMs);
  const work = mkdtempSync(join(tmpdir(), 'leasekv-loadgen-ab-'));
  const clusters: Cluster[] = [];
  // Two sides, each a client kind with its own connections; the same kind twice is an A/A control.
  const [kindA, kindB] = (pair.split(',') as LoadClient[]).map((k) => {
    if (!(LOAD_CLIENTS as readonly string[]).includes(k)) throw new Error(`unknown client '${k}'`);
    return k;
  });
  if (kindA === undefined || kindB === undefined) throw new Error('A,B: two clients, e.g. lean,node-http');
  const names = kindA === kindB ? [`${kindA}-1`, `${kindB}-2`] : [kindA, kindB];
  const agent = (k: LoadClient): LoadAgent => (k === 'lean' ? new LeanPool() : httpAgent(n));
  const agents = new Map<string, LoadAgent>([
    [names[0] as string, agent(kindA)],
    [names[1] as string, agent(kindB)],
  ]);
  const use = (k: string): LoadAgent => agents.get(k) as LoadAgent;
  try {
    const log = (): void => {};
    clusters.push(await startLeasekv({ nodes: 3, peerDelayMs: 0, dir: join(work, 'leasekv'), log, leaseReads: true }));
    clusters.push(await startEtcd({ nodes: 3, peerDelayMs: 0, dir: join(work, 'etcd'), log }));
    for (const c of clusters) {
      const leader = await c.leader();
      const ports = [leader, ...c.members.filter((m) => m !== leader)].map((m) => m.clientPort);
      await preload(ports, 1000, 100, c.put);
    }
    const warmS = Number(process.env['AB_WARMUP_S'] ?? '15');
    for (let t = 0; t < warmS * 1000; t += 2 * ms)
      for (const c of clusters) for (const k of names) await slice(c, use(k), ms, n);
    const kept = new Map<string, Slice[]>();
    const ratios = new Map<string, number[]>(names.map((k) => [k, []]));
    console.log(`rounds: ${rounds} × ${ms} ms slices, ${n} writers, load ${loadavg()[0]?.toFixed(1)}`);
    for (let i = 0; i < Number(rounds); i++) {
      const order = i % 2 === 0 ? names : [...names].reverse();
      const systems = i < Number(rounds) / 2 ? clusters : [...clusters].reverse();
      const got = new Map<string, Slice>();
      for (const k of order) for (const c of systems) got.set(`${c.name} ${k}`, await slice(c, use(k), ms, n));
      if ([...got.values()].some((s) => s.errors > 0)) {
        console.log(`  round ${i + 1} dropped (errors)`);
        continue;
      }
      for (const [key, s] of got) kept.set(key, [...(kept.get(key) ?? []), s]);
      for (const k of order)
        ratios.get(k)?.push((got.get(`leasekv ${k}`) as Slice).opsPerSec / (got.get(`etcd ${k}`) as Slice).opsPerSec);
      console.log(
        `  round ${i + 1}: ${[...got].map(([key, s]) => `${key} ${s.opsPerSec.toFixed(0)}/s gen ${s.genUs.toFixed(0)} µs members ${s.membersUs.toFixed(0)} µs`).join('; ')} (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
    console.log(`medians of ${ratios.get(names[0] as string)?.length ?? 0} rounds (load ${loadavg()[0]?.toFixed(1)}):`);
    console.log('| system | client | writes/s | generator µs/write | members µs/write |');
    console.log('|---|---|---:|---:|---:|');
    for (const [key, ss] of kept) {
      const [system, client] = key.split(' ');
      console.log(
        `| ${system} | ${client} | ${median(ss.map((s) => s.opsPerSec)).toFixed(0)} | ${median(ss.map((s) => s.genUs)).toFixed(0)} | ${median(ss.map((s) => s.membersUs)).toFixed(0)} |`,
      );
    }
    for (const [k, rs] of ratios)
      console.log(
        `leasekv/etcd writes with ${k}: median ${median(rs).toFixed(2)}× (rounds: ${rs.map((r) => r.toFixed(2)).join(' ')})`,
      );
  } finally {
    for (const a of agents.values()) a.destroy();
    await Promise.allSettled(clusters.map((c) => c.stop()));
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
