// CPU time of the processes a benchmark run uses, for a load-robust measure of cost per operation:
// throughput on the shared two-core build machine moves with other work, CPU per operation much less.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

/** User + system CPU time of process `pid` (all its threads) in ms, from /proc; 0 if it is gone. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** This process's CPU time (the load generator) in ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * The whole machine's CPU time so far, every core, in clock ticks (/proc/stat's first line): busy
 * (everything but idle and iowait) and total. Two samples say how busy the machine was between them.
 */
export function machineTicks(): { busy: number; total: number } {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = first.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

export interface CpuSample {
  readonly members: readonly number[];
  readonly self: number;
}

export function sampleCpu(pids: readonly (number | undefined)[]): CpuSample {
  return { members: pids.map(processCpuMs), self: selfCpuMs() };
}

/** CPU per operation between two samples, in µs: per member (in the order sampled), the load generator, total. */
export function cpuPerOp(
  before: CpuSample,
  after: CpuSample,
  ops: number,
): { members: number[]; self: number; total: number } {
  const per = (a: number, b: number): number => (ops > 0 ? ((b - a) * 1000) / ops : NaN);
  const members = after.members.map((b, i) => per(before.members[i] ?? 0, b));
  const self = per(before.self, after.self);
  return { members, self, total: members.reduce((a, b) => a + b, 0) + self };
}

/** Counters summed over every series of a Prometheus text exposition, for the names asked. */
export function sumCounters(text: string, names: readonly string[]): number[] {
  const sums = names.map(() => 0);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const brace = line.indexOf('{');
    const name = line.slice(0, brace >= 0 && brace < sp ? brace : sp);
    const i = names.indexOf(name);
    if (i >= 0) sums[i] = (sums[i] ?? 0) + Number(line.slice(sp + 1));
  }
  return sums;
}
