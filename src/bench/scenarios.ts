// The benchmark scenarios: latency/throughput per system and read mode, failover (scale and memory: scale.ts).
import { join } from 'node:path';
import { warmupMsFor, type BenchArgs } from './args.ts';
import { preload, runLoad } from './load.ts';
import { rowFrom, type Row } from './report.ts';
import { sleep } from './procs.ts';
import { cpuPerOp, sampleCpu, sumCounters } from './cpu.ts';
import type { Cluster, Member, ReadMode } from './systems.ts';
import { startEtcd, startFloor, startLeasekv } from './systems.ts';

export type Say = (line: string) => void;
export type Progress = (label: string) => (fraction: number) => void;

interface Ctx {
  readonly args: BenchArgs;
  readonly dir: string;
  readonly say: Say;
  readonly progress: Progress;
}

async function measure(
  ctx: Ctx,
  system: string,
  mode: string,
  port: number,
  get: (k: string) => { path: string; body: string },
  put: Cluster['put'],
  /** The system's processes, labelled, whose CPU time per operation is reported (with the load generator's). */
  procs: readonly { readonly label: string; readonly pid: number | undefined }[] = [],
  /** Client ports whose /metrics counters (fsyncs, peer messages and bytes) are reported per operation. */
  metricsPorts: readonly number[] = [],
): Promise<Row[]> {
  const { args } = ctx;
  // Warm up (JIT, connections) without recording.
  await runLoad({
    port,
    clients: args.clients,
    durationMs: warmupMsFor(args, 'load'),
    readFraction: args.readFraction,
    keys: args.keys,
    valueBytes: args.valueBytes,
    get,
    put,
  });
  const cpuBefore = sampleCpu(procs.map((p) => p.pid));
  const countersBefore = await counters(metricsPorts);
  const r = await runLoad({
    port,
    clients: args.clients,
    durationMs: args.durationS * 1000,
    readFraction: args.readFraction,
    keys: args.keys,
    valueBytes: args.valueBytes,
    get,
    put,
    onProgress: ctx.progress(`${system} ${mode}`),
  });
  if (r.errors > 0) ctx.say(`  ${system} ${mode}: ${r.errors} errors (first: ${r.firstError})`);
  let cpuUsPerOp: number | undefined;
  if (procs.length > 0) {
    const c = cpuPerOp(cpuBefore, sampleCpu(procs.map((p) => p.pid)), r.get.totalCount + r.put.totalCount);
    cpuUsPerOp = c.total;
    const parts = procs.map((p, i) => `${p.label} ${(c.members[i] ?? NaN).toFixed(0)}`);
    ctx.say(
      `  ${system} ${mode}: CPU per op ${c.total.toFixed(0)} µs (${parts.join(', ')}, load generator ${c.self.toFixed(0)})`,
    );
  }
  if (metricsPorts.length > 0) {
    const after = await counters(metricsPorts);
    const ops = r.get.totalCount + r.put.totalCount;
    const per = after.map((row, i) =>
      row.map((v, j) => ((v - (countersBefore[i]?.[j] ?? 0)) / Math.max(1, ops)).toFixed(3)).join('/'),
    );
    ctx.say(`  ${system} ${mode}: per op, fsyncs/peer messages/peer KiB by member: ${per.join(', ')}`);
  }
  const rows: Row[] = [];
  const cpu = cpuUsPerOp === undefined ? {} : { cpuUsPerOp };
  if (r.get.totalCount > 0) rows.push({ ...rowFrom(system, mode, 'get', r.get, r.elapsedMs, r.errors), ...cpu });
  if (r.put.totalCount > 0)
    rows.push({
      ...rowFrom(
        system,
        mode === 'stale' && args.readFraction === 0 ? 'write' : args.readFraction === 0 ? 'write' : mode,
        'put',
        r.put,
        r.elapsedMs,
        r.errors,
      ),
      ...cpu,
    });
  return rows;
}

const COUNTERS = [
  'leasekv_fsync_duration_seconds_count',
  'leasekv_peer_messages_sent_total',
  'leasekv_peer_bytes_sent_total',
] as const;

/** Per port: fsyncs, peer messages sent, peer KiB sent so far (zeros if /metrics does not answer). */
async function counters(ports: readonly number[]): Promise<number[][]> {
  return Promise.all(
    ports.map(async (port) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        const [f, m, b] = sumCounters(await res.text(), COUNTERS);
        return [f ?? 0, m ?? 0, (b ?? 0) / 1024];
      } catch {
        return [0, 0, 0];
      }
    }),
  );
}

/** The members' processes, the leader first, for CPU per operation. */
function labelled(c: Cluster, leader: Member): { label: string; pid: number | undefined }[] {
  return [leader, ...c.members.filter((m) => m !== leader)].map((m) => ({
    label: m === leader ? `leader ${m.id}` : `follower ${m.id}`,
    pid: m.pid,
  }));
}

/** Reads (and/or writes) against leasekv in each read mode, etcd and the floor, in one run. */
export async function loadScenario(ctx: Ctx): Promise<Row[]> {
  const { args } = ctx;
  const rows: Row[] = [];
  const writesOnly = args.readFraction === 0;
  const modes: ReadMode[] = writesOnly ? ['lease'] : [...args.readModes];
  const byLease = new Map<boolean, ReadMode[]>([
    [true, modes.filter((m) => m !== 'readindex')],
    [false, modes.filter((m) => m === 'readindex')],
  ]);
  for (const [leaseReads, ms] of byLease) {
    if (ms.length === 0) continue;
    ctx.say(
      `starting leasekv (${args.nodes} nodes, peer delay ${args.peerDelayMs} ms, lease reads ${leaseReads ? 'on' : 'off'})`,
    );
    const c = await startLeasekv({
      nodes: args.nodes,
      peerDelayMs: args.peerDelayMs,
      dir: join(ctx.dir, `leasekv-${leaseReads ? 'lease' : 'ri'}`),
      log: ctx.say,
      leaseReads,
      ...(args.cpuProfDir === null ? {} : { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', args.cpuProfDir] }),
    });
    try {
      const leader = await c.leader();
      await preload(leader.clientPort, args.keys, args.valueBytes, c.put);
      for (const mode of ms) {
        const l = await c.leader();
        rows.push(
          ...(await measure(
            ctx,
            'leasekv',
            writesOnly ? 'write' : mode,
            l.clientPort,
            c.get(mode),
            c.put,
            labelled(c, l),
            [l, ...c.members.filter((m) => m !== l)].map((m) => m.clientPort),
          )),
        );
      }
    } finally {
      await c.stop();
    }
  }
  if (args.againstEtcd) {
    ctx.say(`starting etcd (3 members, peer delay ${args.peerDelayMs} ms)`);
    const e = await startEtcd({ nodes: 3, peerDelayMs: args.peerDelayMs, dir: join(ctx.dir, 'etcd'), log: ctx.say });
    try {
      const leader = await e.leader();
      await preload(leader.clientPort, args.keys, args.valueBytes, e.put);
      const etcdModes: [string, ReadMode][] = writesOnly ? [['write', 'lease']] : [];
      if (!writesOnly && modes.some((m) => m !== 'stale')) etcdModes.push(['linearizable', 'lease']);
      if (!writesOnly && modes.includes('stale')) etcdModes.push(['serializable', 'stale']);
      for (const [label, mode] of etcdModes) {
        const l = await e.leader();
        rows.push(...(await measure(ctx, 'etcd', label, l.clientPort, e.get(mode), e.put, labelled(e, l))));
      }
    } finally {
      await e.stop();
    }
  }
  if (args.floor) {
    const f = await startFloor(ctx.dir);
    try {
      const put = (key: string, value: string): { path: string; body: string } => ({
        path: '/leasekv.v1.KV/Put',
        body: `{"key":"${key}","value":"${value}"}`,
      });
      await preload(f.port, args.keys, args.valueBytes, put);
      rows.push(
        ...(await measure(
          ctx,
          'floor',
          writesOnly ? 'write' : 'map',
          f.port,
          (key) => ({ path: '/leasekv.v1.KV/Get', body: `{"key":"${key}"}` }),
          put,
        )),
      );
    } finally {
      await f.stop();
    }
  }
  return rows;
}

export interface FailoverResult {
  readonly system: string;
  readonly writesResumeMs: number;
  readonly readsResumeMs: number;
}

/** kill -9 the leader under a trickle of probes; how long until writes and linearizable reads succeed. */
async function failoverOnce(c: Cluster, say: Say): Promise<FailoverResult> {
  const old = await c.leader();
  // A steady trickle before the kill, so the cluster is warm and the leader's lease is live.
  for (let i = 0; i < 20; i++) {
    await c.probeWrite(old, 1000);
    await sleep(10);
  }
  const survivors = c.members.filter((m) => m !== old);
  const t0 = performance.now();
  await c.kill(old);
  let writeMs = NaN;
  let readMs = NaN;
  const deadline = t0 + 30_000;
  let turn = 0;
  while ((Number.isNaN(writeMs) || Number.isNaN(readMs)) && performance.now() < deadline) {
    const m = survivors[turn++ % survivors.length] as Member;
    if (Number.isNaN(writeMs) && (await c.probeWrite(m, 300).catch(() => false))) writeMs = performance.now() - t0;
    if (Number.isNaN(readMs) && (await c.probeRead(m, 300).catch(() => false))) readMs = performance.now() - t0;
    await sleep(5);
  }
  say(`  ${c.name}: writes resumed after ${writeMs.toFixed(0)} ms, linearizable reads after ${readMs.toFixed(0)} ms`);
  await c.restart(old);
  return { system: c.name, writesResumeMs: writeMs, readsResumeMs: readMs };
}

/** Kills the leader of a freshly started cluster `rounds` times, restarting it in between; stops the cluster. */
export async function failoverRounds(c: Cluster, rounds: number, say: Say): Promise<FailoverResult[]> {
  const out: FailoverResult[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      out.push(await failoverOnce(c, say));
      await sleep(3000);
    }
  } finally {
    await c.stop();
  }
  return out;
}

export async function failoverScenario(ctx: Ctx, rounds = 3): Promise<FailoverResult[]> {
  const { args, dir, say } = ctx;
  const out = await failoverRounds(
    await startLeasekv({
      nodes: args.nodes,
      peerDelayMs: args.peerDelayMs,
      dir: join(dir, 'leasekv-failover'),
      log: say,
      leaseReads: true,
    }),
    rounds,
    say,
  );
  if (args.againstEtcd) {
    out.push(
      ...(await failoverRounds(
        await startEtcd({ nodes: 3, peerDelayMs: args.peerDelayMs, dir: join(dir, 'etcd-failover'), log: say }),
        rounds,
        say,
      )),
    );
  }
  return out;
}
