// `node --import tsx src/bench/thread-cpu.ts [DIR] [SECONDS] [CLIENTS]`: CPU per write of every
// thread of a 3-node leasekv cluster (started from checkout DIR, default this one) under closed-loop
// writes (100-byte values, 1000 keys), user + system and system alone, from /proc/PID/task/TID/stat.
// Threads are told apart by creation order (shown as an offset from the process id): the main
// (consensus) thread is the process id, V8's platform threads (parallel and concurrent GC, compiler
// jobs) come next, the worker threads last — the client API thread (started first, while the node
// opens its storage) and then the WAL worker. BENCH_NODE_ARGS adds node options to the members.
// Per thread also its wake-ups per write: voluntary context switches (it blocked, e.g. waited in
// epoll or on a condition variable, and was woken) and nonvoluntary ones (preempted), from
// /proc/PID/task/TID/status — on a machine where a cross-core wake-up costs ~10 µs they say how
// many hops a write takes (docs/benchmarks.md, "Write path, session 8").
// Used for docs/benchmarks.md, "Write path", sessions 6 and 8.
import { loadavg } from 'node:os';
import { startCheckoutCluster } from './checkout-cluster.ts';
import { loadAgent, preload, runWrites } from './load.ts';
import { threadStats, type ThreadStat } from './thread-stat.ts';

async function main(argv: readonly string[]): Promise<void> {
  const [dir = process.cwd(), seconds = '5', clients = '64'] = argv;
  const { cluster, close } = await startCheckoutCluster(dir, 'leasekv-threads-');
  const agent = loadAgent(Number(clients));
  try {
    const leader = await cluster.leader();
    await preload(leader.clientPort, 1000, 100, cluster.put);
    const pids = cluster.members.map((m) => m.pid as number);
    const before = pids.map(threadStats);
    const r = await runWrites(leader.clientPort, agent, Number(clients), Number(seconds) * 1000, cluster.put);
    const after = pids.map(threadStats);
    const n = r.put.totalCount;
    console.log(
      `${n} writes in ${(r.elapsedMs / 1000).toFixed(1)} s (${((n * 1000) / r.elapsedMs).toFixed(0)}/s), load ${loadavg()[0]?.toFixed(1)}`,
    );
    cluster.members.forEach((m, i) => {
      const a = after[i] as Map<number, ThreadStat>;
      const b = before[i] as Map<number, ThreadStat>;
      const pid = m.pid as number;
      const rows = [...a.entries()]
        .map(([tid, s1]) => {
          const s0 = b.get(tid) ?? { tickMs: 0, sysMs: 0, vol: 0, nonvol: 0 };
          return {
            tid,
            name: s1.name,
            us: ((s1.tickMs - s0.tickMs) * 1000) / n,
            sysUs: ((s1.sysMs - s0.sysMs) * 1000) / n,
            vol: (s1.vol - s0.vol) / n,
            nonvol: (s1.nonvol - s0.nonvol) / n,
          };
        })
        .filter((r) => r.us >= 1 || r.vol + r.nonvol >= 0.01);
      const total = rows.reduce((s, r) => s + r.us, 0);
      const wakeups = rows.reduce((s, r) => s + r.vol, 0);
      const role = m.clientPort === leader.clientPort ? 'leader' : 'follower';
      console.log(
        `${role} pid ${pid}: ${total.toFixed(0)} µs/write, ${wakeups.toFixed(2)} wake-ups/write (voluntary switches)`,
      );
      for (const r of rows)
        console.log(
          `  ${(r.tid === pid ? 'main' : `+${r.tid - pid}`).padEnd(5)} ${r.name.padEnd(16)} ` +
            `${r.us.toFixed(0).padStart(4)} µs (sys ${r.sysUs.toFixed(0).padStart(3)})  ` +
            `vol ${r.vol.toFixed(3)}  nonvol ${r.nonvol.toFixed(3)} per write`,
        );
    });
  } finally {
    agent.destroy();
    await close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
