// `node --import tsx src/bench/idle-cpu.ts [--seconds S] [--windows N] [--settle S] DIR...`: what an
// idle 3-node leasekv cluster costs — no clients at all. One cluster per checkout DIR (default this
// one; its own launcher, so that its nodes run its code; compiled when its dist/ matches), all
// started side by side and measured over the same windows, so that the shared machine's load hits
// them alike. After the leader is known and `settle` seconds more (start-up garbage, the first idle
// collection), each of N windows of S seconds reads every thread of every member from /proc: CPU %
// of one core (schedstat, ns) and wake-ups per second (voluntary context switches: the thread
// blocked — epoll, a condition variable — and was woken; a timer that fires is one). Leader and
// followers separately (the leader is asked before and after: a status call wakes a member). BENCH_SERVE_FLAGS (JSON,
// e.g. {"auth": true}) adds `serve` flags to every member, BENCH_NODE_ARGS node options (e.g.
// --trace-gc); with BENCH_KEEP set the members' folders and logs are kept. Used for docs/benchmarks.md, "Idle cost
// (session 9)".
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep } from './procs.ts';
import { threadStats, type ThreadStat } from './thread-stat.ts';
import type { LeasekvCluster, Member } from './systems.ts';

interface Side {
  readonly dir: string;
  readonly cluster: LeasekvCluster;
}

interface ThreadRow {
  readonly label: string;
  readonly cpuPct: number;
  readonly wakeupsPerS: number;
  readonly preemptedPerS: number;
}

async function start(dir: string, work: string): Promise<Side> {
  const sys = (await import(join(dir, 'src/bench/systems.ts'))) as typeof import('./systems.ts');
  const flags = process.env['BENCH_SERVE_FLAGS'];
  const cluster = await sys.startLeasekv({
    nodes: 3,
    peerDelayMs: 0,
    dir: mkdtempSync(join(work, 'c-')),
    log: () => {},
    leaseReads: true,
    nodeArgs: (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    ...(flags === undefined ? {} : { settings: JSON.parse(flags) as Record<string, string | number | boolean> }),
  });
  return { dir, cluster };
}

/**
 * What a thread is, by creation order: the process id is the node (consensus) thread; the worker
 * threads are the last two created — the client API thread (spawned first, while the node opens
 * its storage) and then the WAL worker; the rest are V8's platform threads and libuv's pool.
 */
function roleOf(pid: number, tid: number, tids: readonly number[]): string {
  if (tid === pid) return 'node thread';
  const last = tids.length - 1;
  if (tids.length >= 3 && tid === tids[last - 1]) return 'api thread';
  if (tids.length >= 3 && tid === tids[last]) return 'wal worker';
  return 'other';
}

function rows(pid: number, a: Map<number, ThreadStat>, b: Map<number, ThreadStat>, ms: number): ThreadRow[] {
  const tids = [...b.keys()].sort((x, y) => x - y);
  const byRole = new Map<string, ThreadRow & { n: number }>();
  for (const tid of tids) {
    const s0 = a.get(tid);
    const s1 = b.get(tid) as ThreadStat;
    if (s0 === undefined) continue; // born during the window: counted from the next one
    const role = roleOf(pid, tid, tids);
    const r = byRole.get(role) ?? { label: role, n: 0, cpuPct: 0, wakeupsPerS: 0, preemptedPerS: 0 };
    byRole.set(role, {
      label: role,
      n: r.n + 1,
      cpuPct: r.cpuPct + ((s1.cpuNs - s0.cpuNs) / 1e6 / ms) * 100,
      wakeupsPerS: r.wakeupsPerS + ((s1.vol - s0.vol) * 1000) / ms,
      preemptedPerS: r.preemptedPerS + ((s1.nonvol - s0.nonvol) * 1000) / ms,
    });
  }
  const order = ['node thread', 'api thread', 'wal worker', 'other'];
  return [...byRole.values()]
    .sort((x, y) => order.indexOf(x.label) - order.indexOf(y.label))
    .map((r) => (r.label === 'other' ? { ...r, label: `other (${r.n})` } : r));
}

async function main(argv: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '10' },
      windows: { type: 'string', default: '3' },
      settle: { type: 'string', default: '15' },
    },
  });
  const dirs = positionals.length === 0 ? [process.cwd()] : positionals.map((d) => resolve(d));
  const windowMs = Number(values.seconds) * 1000;
  const work = mkdtempSync(join(tmpdir(), 'leasekv-idle-'));
  const sides: Side[] = [];
  try {
    for (const d of dirs) sides.push(await start(d, work));
    // Asked once, before the settling: a status call is a request, which wakes the member's threads
    // and puts their loop-lag samplers back to the fine period for a while.
    const leaders = await Promise.all(sides.map((s) => s.cluster.leader()));
    await sleep(Number(values.settle) * 1000);
    for (let w = 1; w <= Number(values.windows); w++) {
      const before = sides.map((s) => s.cluster.members.map((m) => threadStats(m.pid ?? 0)));
      const t0 = performance.now();
      await sleep(windowMs);
      const ms = performance.now() - t0;
      const after = sides.map((s) => s.cluster.members.map((m) => threadStats(m.pid ?? 0)));
      console.log(
        `window ${w}: ${(ms / 1000).toFixed(1)} s, load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      sides.forEach((s, i) =>
        reportAt(
          s,
          leaders[i] as Member,
          before[i] as Map<number, ThreadStat>[],
          after[i] as Map<number, ThreadStat>[],
          ms,
        ),
      );
    }
    const leadersAfter = await Promise.all(sides.map((s) => s.cluster.leader()));
    sides.forEach((s, i) => {
      if ((leadersAfter[i] as Member).id !== (leaders[i] as Member).id)
        console.log(
          `${s.dir}: the leader changed during the run (${(leaders[i] as Member).id} → ${(leadersAfter[i] as Member).id})`,
        );
    });
  } finally {
    await Promise.allSettled(sides.map((s) => s.cluster.stop()));
    if (process.env['BENCH_KEEP'] === undefined) rmSync(work, { recursive: true, force: true });
    else console.log(`kept ${work} (the members' logs)`);
  }
}

function reportAt(
  side: Side,
  leader: Member,
  before: Map<number, ThreadStat>[],
  after: Map<number, ThreadStat>[],
  ms: number,
): void {
  console.log(`  ${side.dir}`);
  side.cluster.members.forEach((m, i) => {
    const pid = m.pid;
    if (pid === undefined) return;
    const rs = rows(pid, before[i] as Map<number, ThreadStat>, after[i] as Map<number, ThreadStat>, ms);
    const cpu = rs.reduce((s, r) => s + r.cpuPct, 0);
    const wakeups = rs.reduce((s, r) => s + r.wakeupsPerS, 0);
    const role = m.id === leader.id ? 'leader  ' : 'follower';
    console.log(`    ${role} ${m.id} pid ${pid}: ${cpu.toFixed(2)} % CPU, ${wakeups.toFixed(1)} wake-ups/s`);
    for (const r of rs)
      console.log(
        `      ${r.label.padEnd(12)} ${r.cpuPct.toFixed(3).padStart(6)} %  ` +
          `${r.wakeupsPerS.toFixed(1).padStart(6)} wake-ups/s  ${r.preemptedPerS.toFixed(1).padStart(5)} preempted/s`,
      );
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv.slice(2));
