// `--scenario txn` (issue 14): transaction throughput, leasekv beside etcd in the same run. C
// closed-loop clients do compare-and-swap transactions on a few keys, the way etcd users do:
// `compare mod_revision(k) == r, success: put k, failure: get k` — a failed compare learns the
// current revision from the get and tries again. Reported: transactions/s, swaps (succeeded)/s,
// and the latency of each transaction.
import { Agent } from 'node:http';
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram } from './load.ts';
import { postText } from './procs.ts';
import type { Cluster } from './systems.ts';
import { termOf } from './watch-bench.ts';

export interface TxnRow {
  readonly system: string;
  readonly clients: number;
  readonly keys: number;
  readonly txnsPerSec: number;
  readonly swapsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly elections: number;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

interface Flavour {
  readonly path: string;
  body(key: string, modRevision: number, value: string): string;
  /** Whether it swapped, and the key's mod revision after the transaction. */
  parse(answer: unknown, key: string): { swapped: boolean; modRevision: number };
}

const LEASEKV: Flavour = {
  path: '/leasekv.v1.KV/Txn',
  body: (key, r, value) =>
    JSON.stringify({
      compare: [{ key, target: 'MOD', result: 'EQUAL', modRevision: String(r) }],
      success: [{ requestPut: { key, value } }],
      failure: [{ requestGet: { key } }],
    }),
  parse: (a) => {
    const b = a as {
      succeeded?: boolean;
      revision?: string;
      responses?: { responseGet?: { modRevision?: string } }[];
    };
    if (b.succeeded === true) return { swapped: true, modRevision: Number(b.revision) };
    return { swapped: false, modRevision: Number(b.responses?.[0]?.responseGet?.modRevision ?? 0) };
  },
};

const ETCD: Flavour = {
  path: '/v3/kv/txn',
  body: (key, r, value) =>
    JSON.stringify({
      compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(r) }],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
      failure: [{ request_range: { key: b64(key) } }],
    }),
  parse: (a) => {
    const b = a as {
      succeeded?: boolean;
      header?: { revision?: string };
      responses?: { response_range?: { kvs?: { mod_revision?: string }[] } }[];
    };
    if (b.succeeded === true) return { swapped: true, modRevision: Number(b.header?.revision) };
    return { swapped: false, modRevision: Number(b.responses?.[0]?.response_range?.kvs?.[0]?.mod_revision ?? 0) };
  },
};

/** `clients` closed-loop CAS clients on `keys` keys for `durationMs` against the leader (a warm-up second first). */
export async function txnThroughput(c: Cluster, clients: number, keys: number, durationMs: number): Promise<TxnRow> {
  const flavour = c.name === 'etcd' ? ETCD : LEASEKV;
  let port = (await c.leader()).clientPort;
  const term0 = await termOf(c);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const value = 'v'.repeat(100);
  const known = new Map<string, number>(); // per key: the last mod revision any client learnt
  const run = async (ms: number, h: Histogram | null): Promise<{ txns: number; swaps: number; errors: number }> => {
    let txns = 0;
    let swaps = 0;
    let errors = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        let r = 0;
        while (performance.now() < end) {
          const key = `txn/k${(i + txns) % keys}`;
          r = known.get(key) ?? r;
          const t0 = performance.now();
          try {
            const a = await postText(port, flavour.path, flavour.body(key, r, value), { agent, timeoutMs: 30_000 });
            if (a.status !== 200) throw new Error(`HTTP ${a.status}`);
            const { swapped, modRevision } = flavour.parse(a.body, key);
            h?.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
            txns++;
            if (swapped) swaps++;
            known.set(key, modRevision);
          } catch {
            errors++;
            await new Promise((r) => setTimeout(r, 50));
            port = (await c.leader().catch(() => null))?.clientPort ?? port; // leadership may have moved
          }
        }
      }),
    );
    return { txns, swaps, errors };
  };
  await run(1000, null);
  const h = newHistogram();
  const t0 = performance.now();
  const res = await run(durationMs, h);
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    system: c.name,
    clients,
    keys,
    txnsPerSec: res.txns / s,
    swapsPerSec: res.swaps / s,
    p50Ms: h.getValueAtPercentile(50) / 1000,
    p99Ms: h.getValueAtPercentile(99) / 1000,
    errors: res.errors,
    elections: (await termOf(c)) - term0,
  };
}

export function txnTable(rows: readonly TxnRow[]): string {
  const f = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  return [
    '| system | clients | keys | txns/s | swaps/s (compare held) | p50 ms | p99 ms | errors | elections |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.system} | ${r.clients} | ${r.keys} | ${f(r.txnsPerSec, 0)} | ${f(r.swapsPerSec, 0)} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ${r.errors} | ${r.elections} |`,
    ),
  ].join('\n');
}
