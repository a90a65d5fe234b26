// `leasekv up` with real nodes, run again after the members changed: it starts the cluster as it is
// now (up-members.ts). Before, a re-run started n1..nN as bootstrapped: the member removed from the
// dashboard was started again (and refused by its peers for as long as it ran) and the member added
// from it was not started at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeBlock, releasePorts, sleep } from '../../testkit/wait.ts';
import { PEER_OFFSET, PROXY_OFFSET } from './up-plan.ts';
import type { NodeControlState } from '../control-api.ts';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
/** Every port `up` opens for 3 nodes and one added member (n4), from --base-port. */
const OFFSETS = [
  -1,
  0,
  1,
  2,
  3,
  PEER_OFFSET,
  PEER_OFFSET + 1,
  PEER_OFFSET + 2,
  PEER_OFFSET + 3,
  ...[0, 1, 2, 3, 4, 5].map((k) => PROXY_OFFSET + k),
];
const START_TIMEOUT_MS = 120_000;

interface Up {
  readonly output: () => string;
  /** SIGTERM, then the exit code. */
  readonly stop: () => Promise<number | null>;
}

/** Runs `up` in `dir` and waits until `ready` holds for its output. */
async function runUp(dir: string, base: number, ready: (out: string) => boolean): Promise<Up> {
  const child = spawn(process.execPath, [BIN, 'up', '--base-port', String(base)], {
    cwd: dir,
    env: { ...process.env, LEASEKV_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!ready(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      assert.fail(`up did not get ready (exit ${child.exitCode}); output:\n${out}`);
    }
    await sleep(200);
  }
  return { output: () => out, stop };
}

/** Every one of `ids` connected to every other, and a leader. */
const linked =
  (ids: readonly string[]) =>
  (out: string): boolean => {
    const links = new Set(
      [...out.matchAll(/\[(n\d)\] \S+ INFO {2}connected to node (n\d)/g)].map((m) => `${m[1]}>${m[2]}`),
    );
    return ids.every((a) => ids.every((b) => a === b || links.has(`${a}>${b}`))) && /became leader/.test(out);
  };

async function control(base: number, path: string, method = 'POST'): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${base - 1}${path}`, {
    method,
    headers: method === 'POST' ? { 'x-leasekv-control': '1' } : {},
  });
  return { status: res.status, body: await res.json() };
}

/** A control POST, retried (bounded) while the cluster refuses it for a passing reason (409). */
async function controlOk(base: number, path: string): Promise<unknown> {
  let last: { status: number; body: unknown } = { status: 0, body: null };
  for (let i = 0; i < 60; i++) {
    last = await control(base, path);
    if (last.status === 200) return last.body;
    if (last.status !== 409) break;
    await sleep(500);
  }
  assert.fail(`${path}: ${last.status} ${JSON.stringify(last.body)}`);
}

test(
  'up run again after a member was added and one removed starts the members of now: the added one, not the removed one',
  { timeout: 3 * START_TIMEOUT_MS },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasekv-up-rerun-'));
    const base = await freeBlock(OFFSETS);
    let up: Up | null = null;
    try {
      up = await runUp(dir, base, linked(['n1', 'n2', 'n3']));
      await controlOk(base, '/members/add');
      const first = up;
      // n4 has joined once it is in the configuration every member logs.
      await runUntil(() => /\[n4\] .*configuration in force from index \d+: voters n1,n2,n3,n4/.test(first.output()));
      await controlOk(base, '/nodes/n3/remove-member');
      assert.equal(await up.stop(), 0, up.output());
      up = null;

      up = await runUp(dir, base, linked(['n1', 'n2', 'n4']));
      const out = up.output();
      assert.match(out, /\[up\] members as .*records them: n1, n2, n4; removed: n3/);
      assert.match(out, /\[up\] n3 was removed from the cluster: not started/);
      const { body } = await control(base, '/nodes', 'GET');
      const states = new Map((body as { nodes: NodeControlState[] }).nodes.map((s) => [s.id, s.state]));
      assert.deepEqual(Object.fromEntries(states), { n1: 'running', n2: 'running', n3: 'removed', n4: 'running' });
      assert.doesNotMatch(out.slice(out.indexOf('[up] members as')), /\[n3\] /, 'n3 was not started again');
      assert.equal(
        (await control(base, '/nodes/n3/restart')).status,
        409,
        'a removed member is not restarted from the dashboard',
      );
      assert.equal(await up.stop(), 0, up.output());
      up = null;
    } finally {
      await up?.stop();
      releasePorts(OFFSETS.map((o) => base + o));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

async function runUntil(done: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!done()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await sleep(200);
  }
}
