// The helpers every test (and the benchmark) waits and picks ports with: free loopback ports
// (reserved across processes: ports.ts), a bounded wait-for, sleep. One set, so that every wait in
// a test has a deadline and says what it waited for when it times out.
import { assert } from '../util/assert.ts';
import { freePorts } from './ports.ts';

export { freeBlock, freePorts, release as releasePorts } from './ports.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
