// The helpers every test (and the benchmark) waits and picks ports with: free loopback ports, a
// bounded wait-for, sleep. One set, so that every wait in a test has a deadline and says what it
// waited for when it times out.
import { createServer, type Server } from 'node:net';
import { assert } from '../util/assert.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Ports that were free a moment ago on `host`: all are bound at once (so they are distinct), then
 * released for the caller to take. They are drawn at random from below the kernel's ephemeral range
 * (32768-60999 on Linux): a port the kernel handed out for `listen(0)` is also where it puts the
 * source port of outgoing connections, so a node dialling its peers could take a port another test
 * had picked for a node not yet started (seen as EADDRINUSE under parallel test files). Another
 * process can still take one in between; that window is short and the draws are spread over 20,000
 * ports.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  assert(n > 0 && n <= 1000, `freePorts: n out of range (${n})`);
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempts = 0; ports.length < n; attempts++) {
      if (attempts > 200 + n * 20) throw new Error(`no ${n} free ports found on ${host} in ${PORT_LOW}-${PORT_HIGH}`);
      const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
      if (ports.includes(port) || recentlyGiven.has(port)) continue;
      const s = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(port, host, () => resolve(true));
      });
      if (!ok) continue;
      servers.push(s);
      ports.push(port);
    }
    for (const p of ports) remember(p);
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

// Below Linux's default ephemeral range (net.ipv4.ip_local_port_range 32768-60999).
const PORT_LOW = 12000;
const PORT_HIGH = 32000;
// Ports this process handed out recently are not handed out again (a caller may not have bound yet).
const recentlyGiven = new Set<number>();
function remember(port: number): void {
  recentlyGiven.add(port);
  if (recentlyGiven.size > 4000) {
    const oldest = recentlyGiven.values().next().value;
    if (oldest !== undefined) recentlyGiven.delete(oldest);
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  assert(port !== undefined, 'freePorts(1) gave no port');
  return port;
}

export interface WaitOptions {
  /** Pause between probes (default 50 ms). */
  readonly intervalMs?: number;
  /** Checked before each probe: a reason to give up at once (e.g. a node crashed), or undefined. */
  readonly hopeless?: () => string | undefined;
}

/**
 * Probes until `probe` gives a value other than undefined and false, and returns it; throws once
 * `timeoutMs` has passed, naming `what` and the probe's last error (a probe that throws counts as
 * "not yet").
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    const why = opts.hopeless?.();
    if (why !== undefined) throw new Error(`gave up waiting for ${what}: ${why}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`,
      );
    }
    await sleep(opts.intervalMs ?? 50);
  }
}
