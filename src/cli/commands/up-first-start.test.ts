// `leasekv up` with real nodes, started in an empty folder as a newcomer would.
// - The first start logs no warning about peers. The nodes start together, and each dials the
//   others through the fault proxies before they listen; a proxy that accepted such a dial and then
//   reset it made the node warn (a reset before the first handshake looks like a TLS mismatch to the
//   transport), two or three lines at every first start. The gated proxies (gated-proxy.ts) refuse
//   until their node listens, which a node logs at info level only.
// - `up` killed (SIGKILL: no chance to stop its nodes) leaves no node running: each learns through
//   its IPC channel that `up` has gone and stops (serve-stop.ts). They ran on as orphans before,
//   cut off from each other (their links went through `up`'s proxies), holding the ports and data
//   dirs, so that the next `up` in the folder was refused ("port … is already in use").
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeBlock, releasePorts } from '../../testkit/wait.ts';
import { PEER_OFFSET, PROXY_OFFSET } from './up-plan.ts';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
/** Every port `up` opens for 3 nodes, from --base-port: control, clients, peers, the 6 proxies. */
const OFFSETS = [
  -1,
  0,
  1,
  2,
  PEER_OFFSET,
  PEER_OFFSET + 1,
  PEER_OFFSET + 2,
  ...[0, 1, 2, 3, 4, 5].map((k) => PROXY_OFFSET + k),
];
/** Starting three nodes through tsx on a loaded two-core machine takes 10–20 s. */
const START_TIMEOUT_MS = 120_000;

/** Every node has connected to both others, one became leader, and `up` has printed its banner. */
function started(out: string): boolean {
  const links = new Set(
    [...out.matchAll(/\[(n\d)\] \S+ INFO {2}connected to node (n\d)/g)].map((m) => `${m[1]}>${m[2]}`),
  );
  return links.size === 6 && /INFO {2}became leader for term/.test(out) && /3 nodes up/.test(out);
}

interface Up {
  readonly child: ReturnType<typeof spawn>;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
  /** Stops `up` if it still runs, waits for it, frees its ports and folder; resolves with its exit code. */
  readonly end: () => Promise<number | null>;
}

/** Starts `up` in an empty folder on a free block of ports and waits until it has started. */
async function startUp(): Promise<Up> {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-up-first-'));
  const base = await freeBlock(OFFSETS);
  const child = spawn(process.execPath, [BIN, 'up', '--base-port', String(base)], {
    cwd: dir, // data in ./data, as in the README
    env: { ...process.env, LEASEKV_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const end = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await exited;
    releasePorts(OFFSETS.map((o) => base + o));
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`up did not start in time; output:\n${out}`)), START_TIMEOUT_MS);
      const check = (): void => {
        if (!started(out)) return;
        clearTimeout(timer);
        resolve();
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then((code) => reject(new Error(`up exited (${code}) before it started; output:\n${out}`)));
    });
  } catch (e) {
    await end();
    throw e;
  }
  return { child, output: () => out, exited, end };
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, then the parent's pid.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'up: the first start in an empty folder logs no warning about peers',
  { timeout: START_TIMEOUT_MS + 30_000 },
  async () => {
    const up = await startUp();
    try {
      const atStart = up.output();
      const warnings = atStart.split('\n').filter((l) => / WARN /.test(l) && /component=transport|node n\d/.test(l));
      assert.deepEqual(warnings, [], `first start's output:\n${atStart}`);
    } finally {
      const code = await up.end();
      assert.equal(code, 0, `up's exit; output:\n${up.output()}`);
    }
  },
);

/** A node's graceful stop with its peers gone is bounded by its --stop-timeout-ms (15 s). */
const ORPHANS_GONE_MS = 40_000;

test(
  'up: killed with SIGKILL, it leaves no node running',
  { timeout: START_TIMEOUT_MS + ORPHANS_GONE_MS + 30_000 },
  async () => {
    const up = await startUp();
    let nodes: number[] = [];
    try {
      nodes = childrenOf(up.child.pid as number);
      assert.equal(nodes.length, 3, `up's children: ${nodes.join(', ')}`);
      up.child.kill('SIGKILL');
      await up.exited;
      const deadline = Date.now() + ORPHANS_GONE_MS;
      while (nodes.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(nodes.filter(alive), [], `nodes still running ${ORPHANS_GONE_MS} ms after up was killed`);
    } finally {
      for (const pid of nodes.filter(alive)) process.kill(pid, 'SIGKILL');
      await up.end();
    }
  },
);
