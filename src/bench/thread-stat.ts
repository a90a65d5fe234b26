// Per-thread CPU time and context switches of a process, from Linux /proc (idle-cpu.ts; thread-cpu.ts
// reads the same files under load, in ticks).
import { readdirSync, readFileSync } from 'node:fs';

/** One thread's counters so far. */
export interface ThreadStat {
  readonly name: string;
  /** Time on a CPU, ns (/proc/PID/task/TID/schedstat: scheduler accounting, not 10 ms ticks). */
  readonly cpuNs: number;
  /** System (kernel) CPU time, ms (/proc/PID/task/TID/stat, in ticks of 10 ms). */
  readonly sysMs: number;
  /** User + system CPU time, ms (stat, ticks of 10 ms). */
  readonly tickMs: number;
  /** It blocked (epoll, a condition variable, a futex) and was woken: one wake-up. */
  readonly vol: number;
  /** Preempted. */
  readonly nonvol: number;
}

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

/** Every live thread of `pid` by thread id (a thread that ends while being read is left out). */
export function threadStats(pid: number): Map<number, ThreadStat> {
  const out = new Map<number, ThreadStat>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // the process is gone
  }
  for (const t of tids) {
    try {
      const dir = `/proc/${pid}/task/${t}`;
      const status = readFileSync(`${dir}/status`, 'utf8');
      const field = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      const stat = readFileSync(`${dir}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = (i: number): number => (Number(f[i]) * 1000) / TICKS_PER_S;
      const schedstat = readFileSync(`${dir}/schedstat`, 'utf8').split(' ');
      out.set(Number(t), {
        name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?',
        cpuNs: Number(schedstat[0]),
        sysMs: ticks(12),
        tickMs: ticks(11) + ticks(12),
        vol: field('voluntary_ctxt_switches'),
        nonvol: field('nonvoluntary_ctxt_switches'),
      });
    } catch {
      // the thread ended
    }
  }
  return out;
}
