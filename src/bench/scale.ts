// --scenario scale (issue 16): a million keys (--scale-keys) in a 3-node cluster; each node's resident
// memory against the raw data (target ≤ 3×), a follower's restart to serving after kill -9 (target
// < 5 s), and a lost-disk follower replaced by a new member that catches up (target < 15 s).
import { Agent, request } from 'node:http';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs } from './args.ts';
import { keyName } from './load.ts';
import { peakRssBytes, postJson, rssBytes, sleep, waitFor } from './procs.ts';
import type { Member } from './systems.ts';
import { replaceLeasekvMember, startLeasekv } from './systems.ts';

export const SCALE_TARGETS = { rssPerRaw: 3, restartMs: 5000, newMemberMs: 15_000 } as const;

/**
 * When memory is sampled a second time after the load: a node that has gone quiet collects its
 * heaps' garbage within a few seconds (src/server/idle-collect.ts); the first sample, 3 s after the
 * load, may come before that (a follower still writing its snapshot is not idle).
 */
const IDLE_SAMPLE_MS = 15_000;

export interface ScaleResult {
  readonly keys: number;
  readonly valueBytes: number;
  readonly batch: number;
  readonly rawBytes: number;
  readonly loadSeconds: number;
  readonly rssBytesPerNode: Record<string, number>;
  /** The same IDLE_SAMPLE_MS after the load: what a node keeps once it has gone quiet (idle-collect.ts). */
  readonly rssIdleBytesPerNode: Record<string, number>;
  /**
   * Each member's peak resident memory (VmHWM) 15 s after the load: the load and the snapshots it
   * took (issue 16: a snapshot is never one buffer), which the samples after it miss.
   */
  readonly rssPeakBytesPerNode: Record<string, number>;
  /** The restarted follower's peak (VmHWM) 2 s after it caught up: recovery and its snapshot load. */
  readonly rssPeakAfterRestartBytes: number;
  readonly memoryPerNode: Record<string, MemoryBreakdown | null>;
  readonly snapshotBytes: number;
  readonly snapshotWriteMs: number;
  readonly snapshots: number;
  readonly restartToServeMs: number;
  /** Where the restart's time went, from the restarted node's log: ms after the kill. */
  readonly restartSteps: RestartSteps;
  readonly rssAfterRestartBytes: number;
  /** The same, IDLE_SAMPLE_MS after it caught up (the start's garbage collected: idle-collect.ts). */
  readonly rssRestartedIdleBytes: number;
  readonly wipedCatchUpMs: number;
  readonly rssNewMemberBytes: number;
  /** The same, IDLE_SAMPLE_MS after it caught up. */
  readonly rssNewMemberIdleBytes: number;
  /** The new member's peak resident memory (VmHWM): snapshot transfers and the install are transient. */
  readonly rssPeakNewMemberBytes: number;
  /** The new member's log: snapshot transfers begun and completed, offers declined (issue 16). */
  readonly newMemberTransfers: { readonly begun: number; readonly received: number; readonly declined: number };
  /** os.loadavg() (1, 5, 15 min) when the load finished and at the end: the machine is shared. */
  readonly loadAvg: { readonly loaded: readonly number[]; readonly end: readonly number[] };
}

interface Ctx {
  readonly args: BenchArgs;
  readonly dir: string;
  readonly say: (line: string) => void;
}

function snapshotBytes(dir: string): number {
  let bytes = 0;
  for (const f of readdirSync(dir)) if (f.endsWith('.snap')) bytes = Math.max(bytes, statSync(join(dir, f)).size);
  return bytes;
}

/** Milliseconds after the kill at which the restarted node logged each step (NaN: not seen). */
export interface RestartSteps {
  /** Its first log line: the process is up and its modules are loaded. */
  readonly firstLog: number;
  /** 'recovered from the data dir': the WAL and the snapshot file read, the snapshot restored. */
  readonly recovered: number;
  /** 'serving': transport and client API listening; the log after the snapshot is then applied. */
  readonly serving: number;
}

/** The restarted node's log lines at or after `sinceEpochMs` (pino JSON: time, msg). */
function restartSteps(logFile: string, sinceEpochMs: number): RestartSteps {
  const lines = readFileSync(logFile, 'utf8')
    .split('\n')
    .flatMap((l): { time: number; msg: string }[] => {
      try {
        const j = JSON.parse(l) as { time?: number; msg?: string };
        return typeof j.time === 'number' && j.time >= sinceEpochMs ? [{ time: j.time, msg: j.msg ?? '' }] : [];
      } catch {
        return [];
      }
    });
  const at = (msg: string | null): number => {
    const l = msg === null ? lines[0] : lines.find((x) => x.msg === msg);
    return l === undefined ? NaN : l.time - sinceEpochMs;
  };
  return { firstLog: at(null), recovered: at('recovered from the data dir'), serving: at('serving') };
}

/** Where a node's memory is, from its /metrics (prom-client's process and V8 heap gauges), in bytes. */
export interface MemoryBreakdown {
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly newSpace: number;
  /** Per thread (node, api, wal): heapUsed, heapTotal, external, arrayBuffers (leasekv_thread_memory_bytes). */
  readonly threads: Record<string, Record<string, number>>;
}

function threadsOf(metrics: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [, thread, kind, v] of metrics.matchAll(
    /^leasekv_thread_memory_bytes\{thread="([^"]+)",kind="([^"]+)"\} (\S+)/gm,
  ))
    (out[thread as string] ??= {})[kind as string] = Number(v);
  return out;
}

async function memoryOf(m: Member): Promise<MemoryBreakdown | null> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port: m.clientPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  }).catch(() => '');
  const gauge = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  if (text === '') return null;
  return {
    heapUsed: gauge(/^nodejs_heap_size_used_bytes (\S+)/m),
    heapTotal: gauge(/^nodejs_heap_size_total_bytes (\S+)/m),
    external: gauge(/^nodejs_external_memory_bytes (\S+)/m),
    newSpace: gauge(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)/m),
    threads: threadsOf(text),
  };
}

async function appliedIndex(m: Member): Promise<number> {
  const b = (await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 2000)).body as { appliedIndex?: string };
  return Number(b.appliedIndex ?? 0);
}

function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Puts keys 0..keys-1 (keyName, values of valueBytes), `batch` per Txn (1: Put), `concurrency` at a time. */
async function load(ports: number[], keys: number, valueBytes: number, batch: number, concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const value = 'v'.repeat(valueBytes);
  let next = 0;
  let current = 0;
  const body = (from: number, to: number): { path: string; body: string } => {
    if (batch === 1) return { path: '/leasekv.v1.KV/Put', body: `{"key":"${keyName(from)}","value":"${value}"}` };
    const puts: string[] = [];
    for (let i = from; i < to; i++) puts.push(`{"requestPut":{"key":"${keyName(i)}","value":"${value}"}}`);
    return { path: '/leasekv.v1.KV/Txn', body: `{"success":[${puts.join(',')}]}` };
  };
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const from = next;
      next = Math.min(keys, next + batch);
      const req = body(from, next);
      for (let attempt = 0; ; attempt++) {
        const port = ports[current % ports.length] as number;
        const status = await post(agent, port, req.path, req.body).catch(() => 0);
        if (status === 200) break;
        if (attempt > 200) throw new Error(`scale load: ${req.path} from ${keyName(from)} keeps failing (${status})`);
        if (ports[current % ports.length] === port) current++; // not the leader (or down): try the next
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}

export async function scaleScenario(ctx: Ctx): Promise<ScaleResult> {
  const { args } = ctx;
  const dir = join(ctx.dir, 'leasekv-scale');
  // Default snapshot thresholds (10,000 entries or 32 MiB applied): what a node runs with.
  const c = await startLeasekv({
    nodes: 3,
    peerDelayMs: 0,
    dir,
    log: ctx.say,
    leaseReads: true,
    logLevel: 'info',
  });
  try {
    const leader = await c.leader();
    ctx.say(`  loading ${args.scaleKeys} keys of ${args.valueBytes} bytes, ${args.scaleBatch} per request`);
    const t0 = performance.now();
    const ports = [leader.clientPort, ...c.members.filter((m) => m !== leader).map((m) => m.clientPort)];
    await load(ports, args.scaleKeys, args.valueBytes, args.scaleBatch, args.scaleBatch === 1 ? 64 : 8);
    const loadSeconds = (performance.now() - t0) / 1000;
    const loadedAvg = loadavg();
    await sleep(3000);
    const rssBytesPerNode: Record<string, number> = {};
    const memoryPerNode: Record<string, MemoryBreakdown | null> = {};
    for (const m of c.members) {
      rssBytesPerNode[m.id] = rssBytes(m.pid);
      memoryPerNode[m.id] = await memoryOf(m);
    }
    await sleep(IDLE_SAMPLE_MS - 3000);
    const rssIdleBytesPerNode: Record<string, number> = {};
    const rssPeakBytesPerNode: Record<string, number> = {};
    for (const m of c.members) {
      rssIdleBytesPerNode[m.id] = rssBytes(m.pid);
      rssPeakBytesPerNode[m.id] = peakRssBytes(m.pid);
      memoryPerNode[`${m.id} idle`] = await memoryOf(m);
    }
    const leaderNow = await c.leader();
    const follower = c.members.find((m) => m !== leaderNow) as Member;
    // Snapshot size and time: the node logs 'snapshot written' with bytes and ms.
    const snap = snapshotBytes(follower.dataDir);
    const logText = readFileSync(join(dir, `${follower.id}.log`), 'utf8');
    const snapMs = [...logText.matchAll(/"ms":(\d+)[^\n]*snapshot written/g)].map((m) => Number(m[1]));
    // Restart: kill -9 a follower, start it again, time until it answers with all data applied.
    const target = await appliedIndex(leaderNow);
    await c.kill(follower);
    const t1 = performance.now();
    const killedAtEpochMs = Date.now();
    await c.restart(follower);
    await waitFor('restarted follower to catch up', 120_000, async () => (await appliedIndex(follower)) >= target);
    const restartToServeMs = performance.now() - t1;
    const steps = restartSteps(join(dir, `${follower.id}.log`), killedAtEpochMs);
    await sleep(2000);
    const rssAfterRestartBytes = rssBytes(follower.pid);
    const rssPeakAfterRestartBytes = peakRssBytes(follower.pid);
    memoryPerNode[`${follower.id} restarted`] = await memoryOf(follower);
    await sleep(IDLE_SAMPLE_MS - 2000);
    const rssRestartedIdleBytes = rssBytes(follower.pid);
    memoryPerNode[`${follower.id} restarted, ${IDLE_SAMPLE_MS / 1000} s later`] = await memoryOf(follower);
    // A follower whose disk is lost is replaced (never restarted empty under its old id, which its
    // peers refuse): removed, a new member added and started with --join; it catches up from the
    // leader's snapshot.
    await c.kill(follower);
    rmSync(follower.dataDir, { recursive: true, force: true });
    const t2 = performance.now();
    const replacement = await replaceLeasekvMember(c, follower);
    await waitFor('the replacement to catch up', 300_000, async () => (await appliedIndex(replacement)) >= target);
    const wipedCatchUpMs = performance.now() - t2;
    await sleep(2000);
    memoryPerNode[`${replacement.id} (new member)`] = await memoryOf(replacement);
    const rssNewMemberBytes = rssBytes(replacement.pid);
    await sleep(IDLE_SAMPLE_MS - 2000);
    memoryPerNode[`${replacement.id} (new member) ${IDLE_SAMPLE_MS / 1000} s later`] = await memoryOf(replacement);
    const newLog = readFileSync(join(dir, `${replacement.id}.log`), 'utf8');
    const count = (re: RegExp): number => [...newLog.matchAll(re)].length;
    return {
      keys: args.scaleKeys,
      valueBytes: args.valueBytes,
      batch: args.scaleBatch,
      rawBytes: args.scaleKeys * (args.valueBytes + keyName(0).length),
      loadSeconds,
      rssBytesPerNode,
      rssIdleBytesPerNode,
      rssPeakBytesPerNode,
      rssPeakAfterRestartBytes,
      memoryPerNode,
      snapshotBytes: snap,
      snapshotWriteMs: snapMs.length > 0 ? Math.max(...snapMs) : NaN,
      snapshots: snapMs.length,
      restartToServeMs,
      restartSteps: steps,
      rssAfterRestartBytes,
      rssRestartedIdleBytes,
      wipedCatchUpMs,
      rssNewMemberBytes,
      rssNewMemberIdleBytes: rssBytes(replacement.pid),
      rssPeakNewMemberBytes: peakRssBytes(replacement.pid),
      newMemberTransfers: {
        begun: count(/"msg":"receiving snapshot"/g),
        received: count(/"msg":"snapshot received"/g),
        declined: count(/"msg":"(snapshot offer|refusing a snapshot offer)[^"]*"/g),
      },
      loadAvg: { loaded: loadedAvg, end: loadavg() },
    };
  } finally {
    await c.stop();
  }
}

/** The result as lines, each measurement next to its target. */
export function scaleReport(s: ScaleResult): string[] {
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const ratio = (b: number): string => `${(b / s.rawBytes).toFixed(2)}×`;
  const verdict = (ok: boolean): string => (ok ? 'met' : '**NOT met**');
  const load = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(' ');
  const rssTarget = SCALE_TARGETS.rssPerRaw * s.rawBytes;
  const rssRows: [string, number][] = [
    ...Object.entries(s.rssBytesPerNode).map(([k, v]): [string, number] => [`${k} after the load`, v]),
    ...Object.entries(s.rssIdleBytesPerNode).map(([k, v]): [string, number] => [
      `${k} ${IDLE_SAMPLE_MS / 1000} s after the load`,
      v,
    ]),
    ['restarted follower', s.rssAfterRestartBytes],
    [`restarted follower ${IDLE_SAMPLE_MS / 1000} s after catching up`, s.rssRestartedIdleBytes],
    ['new member', s.rssNewMemberBytes],
    [`new member ${IDLE_SAMPLE_MS / 1000} s after catching up`, s.rssNewMemberIdleBytes],
  ];
  return [
    `  loaded ${s.keys} keys × ${s.valueBytes} B (${s.batch} per request) in ${s.loadSeconds.toFixed(0)} s; raw data ${mib(s.rawBytes)}; load average ${load(s.loadAvg.loaded)} after the load, ${load(s.loadAvg.end)} at the end`,
    `  snapshot ${mib(s.snapshotBytes)}; slowest write of ${s.snapshots} on one follower: ${s.snapshotWriteMs} ms`,
    ...Object.entries(s.memoryPerNode).map(
      ([k, m]) =>
        `  ${k}: node thread's V8 heap used ${m === null ? '?' : mib(m.heapUsed)} of ${m === null ? '?' : mib(m.heapTotal)} (young generation ${m === null ? '?' : mib(m.newSpace)}), off the heap (Buffers: the key pages, the log's entry bytes) ${m === null ? '?' : mib(m.external)}`,
    ),
    ...Object.entries(s.memoryPerNode).map(
      ([k, m]) =>
        `  ${k} per thread, heap used / total + off the heap: ${Object.entries(m?.threads ?? {})
          .map(
            ([t, v]) =>
              `${t} ${mib(v['heapUsed'] ?? NaN)} / ${mib(v['heapTotal'] ?? NaN)} + ${mib(v['external'] ?? NaN)}`,
          )
          .join('; ')}`,
    ),
    `  peak resident memory (VmHWM) 15 s after the load: ${Object.entries(s.rssPeakBytesPerNode)
      .map(([k, v]) => `${k} ${mib(v)} (${ratio(v)})`)
      .join(', ')}; restarted follower ${mib(s.rssPeakAfterRestartBytes)} (${ratio(s.rssPeakAfterRestartBytes)})`,
    `  new member: ${s.newMemberTransfers.begun} snapshot transfers begun, ${s.newMemberTransfers.received} completed, ${s.newMemberTransfers.declined} offers declined (log lines); peak resident memory ${mib(s.rssPeakNewMemberBytes)} (${ratio(s.rssPeakNewMemberBytes)})`,
    `  restart, ms after the kill: first log line ${s.restartSteps.firstLog} (process up, modules loaded), recovered ${s.restartSteps.recovered} (WAL read, snapshot restored), serving ${s.restartSteps.serving}, caught up ${Math.round(s.restartToServeMs)}`,
    `  | target | measured | |`,
    `  |---|---|---|`,
    ...rssRows.map(
      ([what, v]) =>
        `  | resident memory ≤ ${SCALE_TARGETS.rssPerRaw}× raw (${mib(rssTarget)}): ${what} | ${mib(v)} (${ratio(v)}) | ${verdict(v <= rssTarget)} |`,
    ),
    `  | restart to serving < ${SCALE_TARGETS.restartMs / 1000} s | ${(s.restartToServeMs / 1000).toFixed(1)} s | ${verdict(s.restartToServeMs < SCALE_TARGETS.restartMs)} |`,
    `  | new member caught up < ${SCALE_TARGETS.newMemberMs / 1000} s | ${(s.wipedCatchUpMs / 1000).toFixed(1)} s | ${verdict(s.wipedCatchUpMs < SCALE_TARGETS.newMemberMs)} |`,
  ];
}
