// `--scenario watch` and `--scenario txn` (issue 14): one leasekv cluster and one etcd cluster
// (when installed), started in turn, each running the requested benchmarks, so the tables compare
// the two systems within one run.
import { join } from 'node:path';
import type { BenchArgs } from './args.ts';
import { checkWatchWorks, watchFanOut, watchTable, type WatchRow } from './watch-bench.ts';
import { txnTable, txnThroughput, type TxnRow } from './txn-bench.ts';
import { etcdAvailable, startEtcd, startLeasekv, type Cluster } from './systems.ts';

export interface CoordResult {
  watch: WatchRow[];
  txn: TxnRow[];
}

/** Writes of the watch benchmark: each is delivered to every watcher. */
const WATCH_WRITES = 200;
const TXN_KEYS = 4;
const TXN_CLIENTS = [16, 64] as const;

export async function coordScenario(
  ctx: { readonly args: BenchArgs; readonly dir: string; readonly say: (l: string) => void },
  which: { watch: boolean; txn: boolean },
): Promise<CoordResult> {
  const { args, say } = ctx;
  const out: CoordResult = { watch: [], txn: [] };
  const systems: [string, () => Promise<Cluster>][] = [
    [
      'leasekv',
      () => startLeasekv({ nodes: 3, peerDelayMs: 0, dir: join(ctx.dir, 'leasekv-coord'), log: say, leaseReads: true }),
    ],
  ];
  if (etcdAvailable())
    systems.push(['etcd', () => startEtcd({ nodes: 3, peerDelayMs: 0, dir: join(ctx.dir, 'etcd-coord'), log: say })]);
  else say('  etcd is not installed (apt-get install etcd-server): leasekv only');
  for (const [name, start] of systems) {
    say(`starting ${name} (3 members)`);
    const c = await start();
    try {
      if (which.watch) {
        await checkWatchWorks(c);
        const row = await watchFanOut(c, args.watchers, WATCH_WRITES, args.valueBytes, say);
        say(
          `  ${name} watch: ${row.delivered} events, ${row.eventsPerSec.toFixed(0)}/s, p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms`,
        );
        out.watch.push(row);
      }
      if (which.txn)
        for (const clients of TXN_CLIENTS) {
          const row = await txnThroughput(c, clients, TXN_KEYS, args.durationS * 1000);
          say(
            `  ${name} txn, ${clients} clients: ${row.txnsPerSec.toFixed(0)} txns/s, ${row.swapsPerSec.toFixed(0)} swaps/s, p50 ${row.p50Ms.toFixed(2)} ms`,
          );
          out.txn.push(row);
        }
    } finally {
      await c.stop();
    }
  }
  if (which.watch) {
    say('');
    say(`watch fan-out: ${args.watchers} watchers on one prefix spread over 3 members, ${WATCH_WRITES} writes`);
    say(watchTable(out.watch));
  }
  if (which.txn) {
    say('');
    say(`transactions: compare-and-swap on ${TXN_KEYS} keys, ${args.durationS} s per row`);
    say(txnTable(out.txn));
  }
  return out;
}
