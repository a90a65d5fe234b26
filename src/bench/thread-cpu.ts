// `node --import tsx src/bench/thread-cpu.ts [DIR] [SECONDS] [CLIENTS]`: CPU per write of every
// thread of a 3-node leasekv cluster (started from checkout DIR, default this one) under closed-loop
// writes (100-byte values, 1000 keys), user + system and system alone, from /proc/PID/task/TID/stat.
// Threads are told apart by creation order (shown as an offset from the process id): the main
// (consensus) thread is the process id, V8's platform threads (parallel and concurrent GC, compiler
// jobs) come next, the worker threads last — the client API thread (started first, while the node
// opens its storage) and then the WAL worker. BENCH_NODE_ARGS adds node options to the members.
// Used for docs/benchmarks.md, "Write path, session 6".
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgent, preload, runLoad } from './load.ts';

const TICKS_PER_S = 100;

/** Per thread id: user + system CPU ms, and system CPU ms alone. */
function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S);
      out.set(-Number(t), (Number(f[12]) * 1000) / TICKS_PER_S);
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const [dir = process.cwd(), seconds = '5', clients = '64'] = argv;
  const sys = (await import(join(dir, 'src/bench/systems.ts'))) as typeof import('./systems.ts');
  const cluster = await sys.startLeasekv({
    nodes: 3,
    peerDelayMs: 0,
    dir: mkdtempSync(join(tmpdir(), 'leasekv-threads-')),
    log: () => {},
    leaseReads: true,
    nodeArgs: (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
  });
  const agent = loadAgent(Number(clients));
  try {
    const leader = await cluster.leader();
    await preload(leader.clientPort, 1000, 100, cluster.put);
    const pids = cluster.members.map((m) => m.pid as number);
    const before = pids.map(threadCpuMs);
    const r = await runLoad({
      port: leader.clientPort,
      clients: Number(clients),
      durationMs: Number(seconds) * 1000,
      readFraction: 0,
      keys: 1000,
      valueBytes: 100,
      get: cluster.get('lease'),
      put: cluster.put,
      agent,
    });
    const after = pids.map(threadCpuMs);
    const n = r.put.totalCount;
    console.log(
      `${n} writes in ${(r.elapsedMs / 1000).toFixed(1)} s (${((n * 1000) / r.elapsedMs).toFixed(0)}/s), load ${loadavg()[0]?.toFixed(1)}`,
    );
    cluster.members.forEach((m, i) => {
      const a = after[i] as Map<number, number>;
      const b = before[i] as Map<number, number>;
      const rows = [...a.entries()]
        .filter(([tid]) => tid > 0)
        .map(([tid, ms]) => [tid, ((ms - (b.get(tid) ?? 0)) * 1000) / n] as const)
        .filter(([, us]) => us >= 1);
      const total = rows.reduce((s, [, us]) => s + us, 0);
      const role = m.clientPort === leader.clientPort ? 'leader' : 'follower';
      console.log(
        `${role} pid ${m.pid}: ${total.toFixed(0)} µs/write — ` +
          rows
            .map(([tid, us]) => {
              const sys = (((a.get(-tid) ?? 0) - (b.get(-tid) ?? 0)) * 1000) / n;
              return `${tid === m.pid ? 'main' : `+${tid - (m.pid as number)}`} ${us.toFixed(0)} (sys ${sys.toFixed(0)})`;
            })
            .join(', '),
      );
    });
  } finally {
    agent.destroy();
    await cluster.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
