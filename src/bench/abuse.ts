// `npm run bench -- --scenario abuse` (issue 13): a loaded 3-node leasekv cluster (real processes),
// a lease-read probe and a write probe every 100 ms (own process, abuse-probe.ts), and one attack at
// a time (abuse-attacks.ts). Per attack: elections (term changes), the longest gap of each probe,
// the consensus loop's lag from /metrics (when a node exports it), and how the node answered.
// Target (issue 13 "Must show"): 0 elections and both gaps under 500 ms. Every attack is bounded
// in time, so that the whole scenario, every attack included, runs in about six minutes.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import type { Attack, BenchArgs } from './args.ts';
import { connectionBurst, halfSent, malformed, nestedJson, peerAbuse, rapidReset } from './abuse-attacks.ts';
import { overload } from './abuse-overload.ts';
import { loadKeysBounded, replaceWipedFollower } from './abuse-snapshot.ts';
import { preload } from './load.ts';
import { killAndWait, postJson, sleep } from './procs.ts';
import { startLeasekv, type Cluster, type Member } from './systems.ts';

/** The snapshot attack's bounds: loading its keys, and the wiped follower's catch-up. */
const SNAPSHOT_LOAD_BOUND_MS = 120_000;
const CATCH_UP_BOUND_MS = 90_000;

export interface AbuseRow {
  readonly attack: string;
  readonly elections: number;
  readonly readGapMs: number;
  readonly writeGapMs: number;
  readonly lagMaxMs: number | null;
  readonly lagP99Ms: number | null;
  readonly lagSource: LoopLag['source'];
  readonly answer: string;
  readonly seconds: number;
  readonly loadOpsPerSec: number;
}

interface Ctx {
  readonly args: BenchArgs;
  readonly dir: string;
  readonly say: (line: string) => void;
}

interface ProbeReport {
  read: { maxGapMs: number; ok: number; failed: number; failures: string };
  write: { maxGapMs: number; ok: number; failed: number; failures: string };
  leaseServed: number;
  loadOpsPerSec: number;
  loadErrors: number;
}

function startProbe(ports: number[], clients: number, valueBytes: number, keys: number): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./abuse-probe.ts', import.meta.url));
  const child = fork(script, [JSON.stringify({ ports, clients, valueBytes, keys })], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`abuse probe exited (${code})`)));
  });
}

/** The probes' failures in the window, if any: why they waited (appended to "how the node answered"). */
function probeFailures(p: ProbeReport): string {
  const part = (what: string, t: ProbeReport['read']): string[] =>
    t.failed === 0 ? [] : [`${what} probe failed ${t.failed}× (${t.failures})`];
  const all = [...part('read', p.read), ...part('write', p.write)];
  return all.length === 0 ? '' : `; ${all.join('; ')}`;
}

function probeReport(child: ChildProcess): Promise<ProbeReport> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as ProbeReport));
    child.send({ cmd: 'report' });
  });
}

async function maxTerm(c: Cluster): Promise<number> {
  let term = 0;
  await Promise.all(
    c.members.map(async (m) => {
      if (m.pid === undefined) return;
      const r = await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 2000).catch(() => null);
      term = Math.max(term, Number((r?.body as { term?: string } | undefined)?.term ?? 0));
    }),
  );
  return term;
}

function getText(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
    req.end();
  });
}

export interface LoopLag {
  readonly maxMs: number | null;
  readonly p99Ms: number | null;
  /** Which series: the consensus loop's own (a `leasekv_…loop_lag…` series) or the main event loop's. */
  readonly source: 'consensus' | 'event loop' | null;
}

/**
 * The consensus loop's lag, max and p99 in ms, the largest over the members' /metrics texts: from
 * a `leasekv_…loop_lag…` series when a node exports one (`…max…` or `quantile="1"`, `…p99…` or
 * `quantile="0.99"`; seconds when the name says so), else from prom-client's main event-loop lag
 * (`nodejs_eventloop_lag_max_seconds` / `_p99_seconds`, reset at every scrape), which is the
 * consensus loop's while consensus runs on the main thread. Null when neither is there.
 */
export function parseLoopLag(texts: readonly string[]): LoopLag {
  const pick = (prefix: RegExp): { maxMs: number | null; p99Ms: number | null } => {
    let maxMs: number | null = null;
    let p99Ms: number | null = null;
    for (const text of texts)
      for (const line of text.split('\n')) {
        const m = /^(\w+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line.trim());
        if (m === null || !prefix.test(m[1] ?? '')) continue;
        const [, name = '', labels = '', raw = ''] = m;
        const ms = Number(raw) * (name.includes('seconds') ? 1000 : 1);
        if (!Number.isFinite(ms)) continue;
        if (/max/.test(name) || /quantile="1(\.0)?"/.test(labels)) maxMs = Math.max(maxMs ?? 0, ms);
        else if (/p99/.test(name) || /quantile="0\.99"/.test(labels)) p99Ms = Math.max(p99Ms ?? 0, ms);
      }
    return { maxMs, p99Ms };
  };
  // leasekv_api_loop_lag_* is the client API thread's (issue 13): slow answers, not the consensus loop.
  const own = pick(/^leasekv_(?!api_)\w*loop_lag/);
  if (own.maxMs !== null || own.p99Ms !== null) return { ...own, source: 'consensus' };
  const main = pick(/^nodejs_eventloop_lag_(max|p99)_seconds$/);
  if (main.maxMs !== null || main.p99Ms !== null) return { ...main, source: 'event loop' };
  return { maxMs: null, p99Ms: null, source: null };
}

async function loopLag(c: Cluster): Promise<LoopLag> {
  const texts = await Promise.all(
    c.members.filter((m) => m.pid !== undefined).map(async (m) => getText(m.clientPort, '/metrics')),
  );
  return parseLoopLag(texts);
}

function bounded<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms / 1000} s`)), ms);
    }),
  ]);
}

export async function abuseScenario(ctx: Ctx): Promise<AbuseRow[]> {
  const { args, say } = ctx;
  const dir = join(ctx.dir, 'leasekv-abuse');
  const c = await startLeasekv({ nodes: 3, peerDelayMs: 0, dir, log: say, leaseReads: true });
  let probe: ChildProcess | null = null;
  const rows: AbuseRow[] = [];
  const started = performance.now();
  try {
    const l0 = await c.leader();
    // Every member is a candidate: on a loaded machine leadership can move during the preload.
    const all = [l0.clientPort, ...c.members.filter((m) => m !== l0).map((m) => m.clientPort)];
    await preload(all, args.keys, args.valueBytes, c.put);
    const ports = (): number[] => c.members.filter((m) => m.pid !== undefined).map((m) => m.clientPort);
    probe = await startProbe(ports(), args.abuseLoadClients, args.valueBytes, args.keys);
    await sleep(2000);
    const run = async (attack: string, body: () => Promise<string>): Promise<void> => {
      const term0 = await maxTerm(c);
      await loopLag(c); // a scrape resets the event-loop lag histogram: what follows is this attack's
      const t0 = performance.now();
      probe?.send({ cmd: 'mark' });
      let answer: string;
      try {
        answer = await body();
      } catch (e) {
        answer = `attack failed: ${(e as Error).message}`;
      }
      await sleep(1000); // the aftermath counts too
      const p = await probeReport(probe as ChildProcess);
      const lag = await loopLag(c);
      const row: AbuseRow = {
        attack,
        elections: (await maxTerm(c)) - term0,
        readGapMs: p.read.maxGapMs,
        writeGapMs: p.write.maxGapMs,
        lagMaxMs: lag.maxMs,
        lagP99Ms: lag.p99Ms,
        lagSource: lag.source,
        answer: answer + probeFailures(p),
        seconds: (performance.now() - t0) / 1000,
        loadOpsPerSec: p.loadOpsPerSec,
      };
      rows.push(row);
      say(
        `  ${attack}: elections ${row.elections}, gaps read ${row.readGapMs.toFixed(0)} / write ${row.writeGapMs.toFixed(0)} ms, load ${row.loadOpsPerSec.toFixed(0)} ops/s; ${answer}`,
      );
      await sleep(2000); // the per-second connection windows pass before the next attack
    };
    await run('none (baseline, 5 s)', async () => {
      await sleep(5000);
      return '-';
    });
    const leader = async (): Promise<Member> => c.leader();
    const want = (a: Attack): boolean => args.attacks.includes(a);
    if (want('json-depth'))
      await run('6 MiB `[[[…]]]` body to Get, Range, Put', async () =>
        bounded('json-depth', 60_000, nestedJson((await leader()).clientPort)),
      );
    if (want('rapid-reset'))
      await run('HTTP/2 rapid reset, 3000 HEADERS+RST_STREAM', async () =>
        bounded('rapid-reset', 30_000, rapidReset((await leader()).clientPort, 3000)),
      );
    if (want('conn-burst'))
      await run('5000 connections at once', async () =>
        bounded(
          'conn-burst',
          30_000,
          (async () => {
            const l = await leader();
            return connectionBurst(l.clientPort, 5000, l.pid);
          })(),
        ),
      );
    if (want('half-sent'))
      await run('10,000 half-sent HTTP/1.1 requests', async () =>
        bounded(
          'half-sent',
          60_000,
          (async () => {
            const l = await leader();
            return halfSent(l.clientPort, 10_000, 15_000, l.pid, 25_000);
          })(),
        ),
      );
    if (want('malformed'))
      await run('malformed protobuf, invalid UTF-8, gRPC flag 0x80 (300 each)', async () =>
        bounded('malformed', 60_000, malformed((await leader()).clientPort, 300)),
      );
    if (want('peer'))
      await run('peer port: 12 MiB pre-handshake frame, 300-connection flood', async () => {
        const l = await leader();
        const peerPorts = [
          l.peerPort,
          ...c.members.filter((m) => m !== l && m.pid !== undefined).map((m) => m.peerPort),
        ];
        const pids = c.members.flatMap((m) => (m.pid === undefined ? [] : [m.pid]));
        return bounded('peer', 30_000, peerAbuse(peerPorts, 300, pids));
      });
    if (want('overload'))
      await run(`4× overload: ${args.abuseOverload} requests in flight for 5 s`, async () =>
        bounded('overload', 60_000, overload((await leader()).clientPort, args.abuseOverload, 5000)),
      );
    if (want('overload-writes'))
      await run(`4× overload of writes: ${args.abuseOverload} Puts in flight for 5 s`, async () =>
        bounded('overload-writes', 60_000, overload((await leader()).clientPort, args.abuseOverload, 5000, 'Put')),
      );
    if (want('snapshot')) {
      const n = args.abuseKeys;
      await run(`load ${n.toLocaleString('en')} keys of ${args.valueBytes} B (txns of 128 puts)`, async () => {
        const r = await loadKeysBounded(c, n, args.valueBytes, SNAPSHOT_LOAD_BOUND_MS);
        return r.loaded >= n
          ? `loaded in ${r.seconds.toFixed(0)} s`
          : `${r.loaded.toLocaleString('en')} keys loaded in ${r.seconds.toFixed(0)} s (bound)`;
      });
      await run(`wiped follower catches up from the snapshot`, async () =>
        replaceWipedFollower(c, CATCH_UP_BOUND_MS, () => probe?.send({ cmd: 'ports', ports: ports() })),
      );
    }
    say(`abuse: ${rows.length} rows in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    if (probe !== null) {
      probe.send({ cmd: 'stop' });
      await killAndWait(probe, 'SIGTERM', 3000);
    }
    await c.stop();
  }
  return rows;
}

const f0 = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(0));

/** The markdown table, and the verdict per attack against "0 elections, gaps < 500 ms". */
export function abuseTable(rows: readonly AbuseRow[]): string {
  const out = [
    '| attack | elections | longest gap, lease reads ms | longest gap, writes ms | loop lag max / p99 ms | met | how the node answered |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    const met = r.elections === 0 && r.readGapMs < 500 && r.writeGapMs < 500;
    const lag =
      r.lagSource === null
        ? 'n/a'
        : `${f0(r.lagMaxMs)} / ${f0(r.lagP99Ms)}${r.lagSource === 'event loop' ? ' (main loop)' : ''}`;
    out.push(
      `| ${r.attack} | ${r.elections} | ${f0(r.readGapMs)} | ${f0(r.writeGapMs)} | ${lag} | ${met ? 'yes' : '**no**'} | ${r.answer} |`,
    );
  }
  return out.join('\n');
}
