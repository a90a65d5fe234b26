// Process plumbing shared by the benchmarks: spawning, JSON posts, memory. Free ports, waits and
// sleep are the test kit's (src/testkit/wait.ts), re-exported here.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, createWriteStream } from 'node:fs';
import { request } from 'node:http';

export { freePort, freePorts, sleep, waitFor } from '../testkit/wait.ts';

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

/** POSTs JSON once; resolves with status and parsed body, rejects on network error or timeout. */
export function postJson(
  port: number,
  path: string,
  body: unknown,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host,
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

/** Resident memory of a process in bytes (Linux /proc), or 0 if gone. */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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
