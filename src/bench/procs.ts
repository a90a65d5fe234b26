// Process plumbing shared by the benchmarks: spawning, memory. Free ports, waits, sleep and JSON posts
// are the test kit's (src/testkit/wait.ts, http.ts), re-exported here.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, createWriteStream } from 'node:fs';

export { freePort, freePorts, sleep, waitFor } from '../testkit/wait.ts';
export { postJson, postText } from '../testkit/http.ts';

/** Spawns a child whose output goes to `logFile`. */
export function spawnLogged(
  cmd: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

/** Resident memory of a process in bytes (Linux /proc), or 0 if gone. */
export function rssBytes(pid: number | undefined): number {
  return statusKb(pid, 'VmRSS');
}

/** The most resident memory a process has had since it started (VmHWM), or 0 if gone. */
export function peakRssBytes(pid: number | undefined): number {
  return statusKb(pid, 'VmHWM');
}

function statusKb(pid: number | undefined, field: string): number {
  if (pid === undefined) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

export async function killAndWait(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGKILL',
  timeoutMs = 5000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}
