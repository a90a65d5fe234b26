// A 3-node leasekv cluster started from another checkout's sources (DIR, e.g. a worktree holding the
// build under test), with BENCH_NODE_ARGS as extra node options, in a fresh folder under the system's
// temporary directory that close() removes with the members' data and logs. For the per-checkout
// measurement tools (thread-cpu.ts, warmup.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeasekvCluster } from './systems.ts';

export interface CheckoutCluster {
  readonly cluster: LeasekvCluster;
  /** Stops the members and removes the folder. */
  close(): Promise<void>;
}

export async function startCheckoutCluster(dir: string, folderPrefix: string): Promise<CheckoutCluster> {
  const sys = (await import(join(dir, 'src/bench/systems.ts'))) as typeof import('./systems.ts');
  const work = mkdtempSync(join(tmpdir(), folderPrefix));
  const remove = (): void => rmSync(work, { recursive: true, force: true });
  const cluster = await sys
    .startLeasekv({
      nodes: 3,
      peerDelayMs: 0,
      dir: work,
      log: () => {},
      leaseReads: true,
      nodeArgs: (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    })
    .catch((e: unknown) => {
      remove();
      throw e;
    });
  return {
    cluster,
    close: async () => {
      await cluster.stop();
      remove();
    },
  };
}
