// `node --import tsx src/bench/warmup.ts [DIR] [WINDOWS] [WINDOW_S] [CLIENTS]`: how a fresh 3-node
// leasekv cluster's CPU per write changes while it warms up — closed-loop writes (100-byte values,
// 1000 keys) at the leader, right after the preload, in successive windows (default 8 of 4 s), each
// printed with writes/s and the members' CPU per write (every thread of the three processes, from
// /proc). A member's first ~10 s under load run largely in V8's interpreter and baseline code
// (docs/benchmarks.md, "Write path, session 10"), so a short run measures start-up as much as the
// write path. DIR: the checkout whose members run (default this one); BENCH_NODE_ARGS adds node
// options to the members.
import { loadavg } from 'node:os';
import { startCheckoutCluster } from './checkout-cluster.ts';
import { loadAgent, preload, runWrites } from './load.ts';
import { cpuPerOp, sampleCpu } from './cpu.ts';

async function main(argv: readonly string[]): Promise<void> {
  const [dir = process.cwd(), windows = '8', windowS = '4', clients = '64'] = argv;
  const { cluster, close } = await startCheckoutCluster(dir, 'leasekv-warmup-');
  const agent = loadAgent(Number(clients));
  try {
    const port = (await cluster.leader()).clientPort;
    await preload(port, 1000, 100, cluster.put);
    for (let i = 0; i < Number(windows); i++) {
      const pids = cluster.members.map((m) => m.pid);
      const before = sampleCpu(pids);
      const r = await runWrites(port, agent, Number(clients), Number(windowS) * 1000, cluster.put);
      const us = cpuPerOp(before, sampleCpu(pids), r.put.totalCount).members.reduce((a, b) => a + b, 0);
      console.log(
        `${(i * Number(windowS)).toString().padStart(3)}–${((i + 1) * Number(windowS)).toString().padEnd(3)} s: ` +
          `${((r.put.totalCount * 1000) / r.elapsedMs).toFixed(0)} writes/s, members' CPU ${us.toFixed(0)} µs/write` +
          `${r.errors > 0 ? `, ${r.errors} errors` : ''} (load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
  } finally {
    agent.destroy();
    await close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
