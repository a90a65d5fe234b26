// Test helper: a real local cluster of `leasekv serve` processes under the supervisor (the same
// code path as `leasekv up`), on free loopback ports, with fast timings.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterMembership } from './membership.ts';
import { startSupervisor, type SupervisedNode, type Supervisor } from './supervisor.ts';

const BIN = fileURLToPath(new URL('../../bin/leasekv.mjs', import.meta.url));

export interface TestCluster {
  readonly supervisor: Supervisor;
  readonly nodes: readonly SupervisedNode[];
  /** The folder holding every node's data dir (DIR/n1, DIR/n2, ...). */
  readonly dir: string;
  /** Every node's stderr so far (for failure messages). */
  readonly output: () => string;
  close(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startTestCluster(
  size: number,
  timing: readonly string[] = ['--heartbeat-ms', '50', '--election-timeout-ms', '600', '--lease-ms', '500'],
): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-cluster-'));
  const nodes: SupervisedNode[] = [];
  for (let i = 1; i <= size; i++)
    nodes.push({ id: `n${i}`, clientAddr: `127.0.0.1:${await freePort()}`, peerAddr: `127.0.0.1:${await freePort()}` });
  const clientAddrs = nodes.map((n) => `${n.id}=${n.clientAddr}`).join(',');
  let output = '';
  const added = new Map<string, SupervisedNode>();
  // Ports for members added later (two per member: client, peer).
  const ports: number[] = [];
  for (let i = 0; i < 4; i++) ports.push(await freePort());
  const supervisor = await startSupervisor({
    nodes,
    controlPort: 0,
    stopTimeoutMs: 3000,
    // add-member: n4, n5, … on free ports, started with --join (as `leasekv up` does).
    membership: clusterMembership(
      nodes.map((n) => n.clientAddr),
      (taken) => {
        let k = size + 1;
        while (taken.includes(`n${k}`) || added.has(`n${k}`)) k++;
        const n = {
          id: `n${k}`,
          clientAddr: `127.0.0.1:${ports.shift() ?? 0}`,
          peerAddr: `127.0.0.1:${ports.shift() ?? 0}`,
        };
        added.set(n.id, n);
        return n;
      },
    ),
    spawn(id, peers, env) {
      const n = nodes.find((m) => m.id === id) ?? (added.get(id) as SupervisedNode);
      const start =
        peers === ''
          ? ['--join', nodes.map((m) => m.clientAddr).join(',')]
          : ['--peers', peers, '--client-addrs', clientAddrs];
      const args = [
        BIN,
        'serve',
        '--insecure',
        '--id',
        id,
        '--data-dir',
        join(dir, id),
        '--listen-peer',
        n.peerAddr,
        '--listen-client',
        n.clientAddr,
        ...start,
        '--log-level',
        'warn',
        ...timing,
      ];
      const child = spawn(process.execPath, args, {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (b: Buffer) => {
        output = (output + `[${id}] ${b.toString()}`).slice(-20_000);
      });
      return child;
    },
  });
  try {
    await waitServing(nodes, 30_000);
  } catch (e) {
    await supervisor.close();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\nnode output:\n${output}`);
  }
  return {
    supervisor,
    nodes,
    dir,
    output: () => output,
    async close() {
      await supervisor.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until every node answers on its client port (starting a node through tsx takes seconds). */
async function waitServing(nodes: readonly SupervisedNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const n of nodes) {
    for (;;) {
      const ok = await fetch(`http://${n.clientAddr}/dashboard/config.json`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${n.id} did not start serving within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
