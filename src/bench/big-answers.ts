// Big answers against a 3-node cluster (session 10, "answer byte cap"): K keys of 1 MiB under
// big/, then C Range calls of all of them at once over HTTP/1.1 JSON, ROUNDS times. Reports the
// leader's peak RSS (both threads, /proc VmRSS sampled every 20 ms), what the calls answered, and
// whether the same node still leads in the same term with its lease afterwards. The server runs with
// its own default limits (and timing profile); bounded: ROUNDS × C calls, 60 s each.
// Run: node --import tsx src/bench/big-answers.ts [KEYS=64] [CONCURRENT=8] [ROUNDS=3] [LIMIT=KEYS]
// BIG_ANSWERS_ENTRY=/other/checkout/bin/leasekv.mjs runs that checkout's nodes instead (A/B); the
// nodes run the TypeScript sources (LEASEKV_RUN=source), so that neither side depends on a build.
// BIG_ANSWERS_SETTINGS='{"max-pending-response-bytes":33554432}': more `serve` flags for every node.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { ProcessCluster, type Settings } from '../testkit/cluster.ts';
import { call, type Endpoint } from '../testkit/http.ts';
import { statusAt } from '../testkit/status.ts';

const [keys = 64, concurrent = 8, rounds = 3] = process.argv.slice(2, 5).map(Number);
const limit = Number(process.argv[5] ?? keys);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Math.round(Number(m[1]) / 1024);
}

/** One Range; resolves with "ok N MB" or the error code, reading and dropping the body. */
function bigRange(ep: { host: string; port: number }, agent: Agent): Promise<string> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ prefix: 'big/', limit });
    const req = request(
      {
        host: ep.host,
        port: ep.port,
        agent,
        method: 'POST',
        path: '/leasekv.v1.KV/Range',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 60_000,
      },
      (res) => {
        let n = 0;
        let head = '';
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (head.length < 400) head += c.toString('utf8', 0, 400);
        });
        res.on('end', () =>
          resolve(
            res.statusCode === 200
              ? `ok ${(n / 1e6).toFixed(0)} MB`
              : `${res.statusCode ?? 0} ${/"code":"([a-z_]+)"/.exec(head)?.[1] ?? head.slice(0, 80)}`,
          ),
        );
        res.on('error', (e) => resolve(`error ${e.message}`));
      },
    );
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

async function main(): Promise<void> {
  const entry = process.env['BIG_ANSWERS_ENTRY'];
  const c = await ProcessCluster.start({
    size: 3,
    timing: 'profile',
    name: 'big-answers',
    logLevel: 'warn',
    env: { LEASEKV_RUN: 'source' },
    settings: JSON.parse(process.env['BIG_ANSWERS_SETTINGS'] ?? '{}') as Settings,
    ...(entry === undefined ? {} : { entry }),
  });
  console.log(`nodes: ${entry ?? 'this checkout'}`);
  try {
    let leader = await c.waitForLeader(60_000);
    let ep = c.endpoint(leader) as Endpoint & { host: string; port: number };
    const value = 'v'.repeat(1 << 20);
    for (let i = 0, tries = 0; i < keys;) {
      const r = await call(ep, 'Put', { key: `big/${String(i).padStart(4, '0')}`, value }, 30_000);
      if (r.kind === 'ok') i++;
      else if (++tries > 50) throw new Error(`put ${i}: ${JSON.stringify(r)}`);
      else ep = c.endpoint(await c.waitForLeader(60_000)) as Endpoint & { host: string; port: number };
    }
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`leader ${leader}, RSS ${rssMiB(c.pid(leader))} MiB after ${keys} puts of 1 MiB`);
    for (let round = 1; round <= rounds; round++) {
      // Each round against whoever leads now (a round may have moved leadership).
      leader = await c.waitForLeader(60_000);
      ep = c.endpoint(leader) as Endpoint & { host: string; port: number };
      const pid = c.pid(leader);
      const before = await statusAt(ep);
      const agent = new Agent({ keepAlive: true, maxSockets: concurrent });
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
      const t0 = performance.now();
      const answers = await Promise.all(Array.from({ length: concurrent }, () => bigRange(ep, agent)));
      clearInterval(sampler);
      const ms = Math.round(performance.now() - t0);
      const tally = new Map<string, number>();
      for (const a of answers) tally.set(a, (tally.get(a) ?? 0) + 1);
      const after = await statusAt(ep);
      const still =
        'role' in after && 'role' in before && after.role === 'LEADER' && after.term === before.term && after.leaseHeld;
      console.log(
        `round ${round} (leader ${leader}): ${ms} ms, peak RSS ${peak} MiB; answers ${[...tally].map(([k, v]) => `${v}× ${k}`).join(', ')}; ` +
          `still leader with lease in the same term: ${still ? 'yes' : `NO (${JSON.stringify(after)})`}`,
      );
      agent.destroy();
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    await c.close();
  }
}

await main();
