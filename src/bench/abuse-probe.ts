// The probe and the background load of `--scenario abuse` (issue 13), in their own process so that
// the attacker's work (thousands of sockets, megabyte bodies) cannot delay them: what they measure
// is the cluster's answer, not the bench's event loop.
//
// argv[2]: JSON { ports: number[], clients: number, valueBytes: number, keys: number }.
// Two probes, each every 100 ms against the current leader with a 1 s timeout: a linearizable Get
// (served from the leader's lease while it holds one) and a Put. On a failure a probe looks the
// leader up again (Status of every member). The load: `clients` closed-loop clients, 90% Get, 10%
// Put, on the leader. IPC: {cmd:'ports', ports} replaces the member list; {cmd:'mark'} starts a
// window; {cmd:'report'} answers with the window's longest gaps and counts; {cmd:'stop'} exits.
import { Agent, request } from 'node:http';
import { keyName } from './load.ts';
import { postJson, sleep } from './procs.ts';

interface Setup {
  readonly ports: number[];
  readonly clients: number;
  readonly valueBytes: number;
  readonly keys: number;
}

const setup = JSON.parse(process.argv[2] ?? '{}') as Setup;
let ports = setup.ports;
let leaderPort = ports[0] ?? 0;
let stopping = false;

async function findLeader(): Promise<void> {
  let best: { port: number; term: number } | null = null;
  await Promise.all(
    ports.map(async (port) => {
      const r = await postJson(port, '/leasekv.v1.KV/Status', {}, 500).catch(() => null);
      const b = r?.body as { role?: string; term?: string } | undefined;
      if (b?.role === 'LEADER' && (best === null || Number(b.term) > best.term)) best = { port, term: Number(b.term) };
    }),
  );
  if (best !== null) leaderPort = (best as { port: number }).port;
}

/** Successes of one probe since the last mark, for the longest gap between them. */
class Track {
  private windowStart = performance.now();
  private last = this.windowStart;
  maxGapMs = 0;
  ok = 0;
  failed = 0;
  /** Why probes failed since the mark: "429 resource_exhausted", "timeout", ... and how often. */
  readonly failures = new Map<string, number>();

  mark(): void {
    this.windowStart = performance.now();
    this.last = this.windowStart;
    this.maxGapMs = 0;
    this.ok = 0;
    this.failed = 0;
    this.failures.clear();
  }

  fail(why: string): void {
    this.failed++;
    this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
  }

  success(at: number): void {
    this.maxGapMs = Math.max(this.maxGapMs, at - this.last);
    this.last = at;
    this.ok++;
  }

  /** The gap still open at the end of the window counts too. */
  report(now: number): { maxGapMs: number; ok: number; failed: number; failures: string } {
    const failures = [...this.failures.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${v}× ${k}`)
      .join(', ');
    return { maxGapMs: Math.max(this.maxGapMs, now - this.last), ok: this.ok, failed: this.failed, failures };
  }
}

const reads = new Track();
const writes = new Track();
let leaseServed = 0;

/** "ok", or why the probe failed (status and code, or the network error). */
async function probeLoop(track: Track, op: () => Promise<string>): Promise<void> {
  while (!stopping) {
    const t0 = performance.now();
    const outcome = await op().catch((e: Error) => e.message);
    if (outcome === 'ok') track.success(performance.now());
    else {
      track.fail(outcome);
      await findLeader().catch(() => undefined);
    }
    await sleep(Math.max(0, 100 - (performance.now() - t0)));
  }
}

const outcomeOf = (r: { status: number; body: unknown }): string =>
  r.status === 200 ? 'ok' : `${r.status} ${(r.body as { code?: string } | null)?.code ?? ''}`;
const readProbe = async (): Promise<string> => {
  const r = await postJson(leaderPort, '/leasekv.v1.KV/Get', { key: 'abuse-probe' }, 1000);
  if ((r.body as { readMode?: string }).readMode === 'READ_MODE_LEASE') leaseServed++;
  return outcomeOf(r);
};
let seq = 0;
const writeProbe = async (): Promise<string> =>
  outcomeOf(await postJson(leaderPort, '/leasekv.v1.KV/Put', { key: 'abuse-probe', value: String(seq++) }, 1000));

let loadOps = 0;
let loadErrors = 0;
async function loadLoop(agent: Agent, n: number): Promise<void> {
  const value = 'v'.repeat(setup.valueBytes);
  let seed = 7 + n;
  while (!stopping) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const key = keyName(seed % setup.keys);
    const body = seed % 10 === 0 ? `{"key":"${key}","value":"${value}"}` : `{"key":"${key}"}`;
    const path = seed % 10 === 0 ? '/leasekv.v1.KV/Put' : '/leasekv.v1.KV/Get';
    const status = await new Promise<number>((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: leaderPort,
          path,
          method: 'POST',
          agent,
          timeout: 2000,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end(body);
    });
    if (status === 200) loadOps++;
    else {
      loadErrors++;
      await sleep(50);
    }
  }
}

let loadMarkAt = performance.now();
process.on('message', (m: { cmd: string; ports?: number[] }) => {
  if (m.cmd === 'ports' && m.ports !== undefined) ports = m.ports;
  else if (m.cmd === 'mark') {
    reads.mark();
    writes.mark();
    leaseServed = 0;
    loadOps = 0;
    loadErrors = 0;
    loadMarkAt = performance.now();
  } else if (m.cmd === 'report') {
    const now = performance.now();
    process.send?.({
      read: reads.report(now),
      write: writes.report(now),
      leaseServed,
      loadOpsPerSec: loadOps / ((now - loadMarkAt) / 1000),
      loadErrors,
    });
  } else if (m.cmd === 'stop') {
    stopping = true;
    setTimeout(() => process.exit(0), 1500).unref();
  }
});

await findLeader();
const agent = new Agent({ keepAlive: true, maxSockets: Math.max(1, setup.clients) });
process.send?.({ ready: true });
await Promise.all([
  probeLoop(reads, readProbe),
  probeLoop(writes, writeProbe),
  ...Array.from({ length: setup.clients }, (_, i) => loadLoop(agent, i)),
]);
agent.destroy();
process.exit(0);
