// `node --import tsx src/bench/api-cost.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS] [OP]`: the client
// API thread's cost per request on its own — no consensus, disk or followers, so no leader to lose
// under load — as an A/B of two built checkouts (`npm run build` in each) in alternating slices. Each
// side is a process running its checkout's API thread (dist/server/api-thread/host.js) over a backend
// that answers from memory. OP `put` (default): closed-loop Puts, each answered once per turn of the
// node's loop (as an apply answers the writes it committed). OP `get`: lease reads of 1000 keys with
// the node's lease view shared, as a leader's — after a key's first read (answered by the node's
// thread) the API thread answers it itself (api-thread/local-reads.ts). OP `get-node`: lease reads
// without the view, every one answered by the node's thread at once (getNow). Per side: requests/s
// and CPU µs per request of the API thread, the node's thread and the rest (V8's helper threads),
// from /proc/PID/task/TID/stat, and the API thread's context switches per request
// (/proc/PID/task/TID/status). API_COST_NODE_ARGS adds node options to both sides (e.g. `--cpu-prof
// --cpu-prof-dir=DIR`). Used for docs/benchmarks.md, "Write path, session 8" and "Client API,
// session 14".
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadAgent, runLoad, runWrites } from './load.ts';
import { LeaseViewWriter, newLeaseViewBuffer } from '../server/api-thread/lease-view.ts';
import type { GetResult } from '../server/backend.ts';

const TICKS_PER_S = 100;
const PUT_PATH = '/leasekv.v1.KV/Put';
const GET_PATH = '/leasekv.v1.KV/Get';
const OPS = ['put', 'get', 'get-node'] as const;
type Op = (typeof OPS)[number];

interface ThreadSample {
  readonly cpuMs: number;
  readonly switches: number;
}

/** Per thread id of `pid`: CPU ms (user + system) and context switches (voluntary + involuntary). */
function threads(pid: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      const v = Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const nv = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      out.set(Number(t), { cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S, switches: v + nv });
    } catch {
      // the thread ended
    }
  }
  return out;
}

interface Side {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** The API thread's id: the worker, the thread created last. */
  readonly apiTid: number;
  readonly agent: ReturnType<typeof loadAgent>;
  ops: number;
  ms: number;
  api: number;
  node: number;
  rest: number;
  switches: number;
  readonly apiPerWrite: number[];
}

async function start(dir: string, name: string, clients: number, op: Op): Promise<Side> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', dir, op], {
    execArgv: ['--import', 'tsx', ...(process.env['API_COST_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(m as number));
    child.once('exit', (code) => reject(new Error(`side ${name} exited with ${code}`)));
  });
  const pid = child.pid as number;
  const apiTid = Math.max(...threads(pid).keys());
  return {
    name,
    child,
    pid,
    port,
    apiTid,
    agent: loadAgent(clients),
    ops: 0,
    ms: 0,
    api: 0,
    node: 0,
    rest: 0,
    switches: 0,
    apiPerWrite: [],
  };
}

async function slice(s: Side, ms: number, clients: number, record: boolean, op: Op): Promise<void> {
  const before = threads(s.pid);
  const r =
    op === 'put'
      ? await runWrites(s.port, s.agent, clients, ms, (key, value) => ({
          path: PUT_PATH,
          body: JSON.stringify({ key, value }),
        }))
      : await runLoad({
          port: s.port,
          agent: s.agent,
          clients,
          durationMs: ms,
          readFraction: 1,
          keys: 1000,
          valueBytes: 100,
          get: (key) => ({ path: GET_PATH, body: JSON.stringify({ key }) }),
          put: () => ({ path: '/', body: '' }),
        });
  const after = threads(s.pid);
  if (r.errors > 0) console.log(`${s.name}: ${r.errors} errors (first: ${r.firstError})`);
  if (!record) return;
  const n = op === 'put' ? r.put.totalCount : r.get.totalCount;
  const d = (tid: number): ThreadSample => {
    const a = after.get(tid);
    const b = before.get(tid);
    return { cpuMs: (a?.cpuMs ?? 0) - (b?.cpuMs ?? 0), switches: (a?.switches ?? 0) - (b?.switches ?? 0) };
  };
  let all = 0;
  for (const tid of after.keys()) all += d(tid).cpuMs;
  const api = d(s.apiTid);
  const node = d(s.pid);
  s.ops += n;
  s.ms += r.elapsedMs;
  s.api += api.cpuMs;
  s.node += node.cpuMs;
  s.rest += all - api.cpuMs - node.cpuMs;
  s.switches += api.switches;
  s.apiPerWrite.push((api.cpuMs * 1000) / Math.max(1, n));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2;
}

async function main(argv: readonly string[]): Promise<void> {
  const [dirA, dirB, slices = '8', sliceMs = '1000', clientsArg = '64', opArg = 'put'] = argv;
  const op = OPS.find((o) => o === opArg);
  if (dirA === undefined || dirB === undefined || op === undefined)
    throw new Error(`usage: api-cost.ts DIR_A DIR_B [SLICES] [SLICE_MS] [CLIENTS] [${OPS.join('|')}]`);
  const clients = Number(clientsArg);
  const a = await start(dirA, 'A', clients, op);
  const b = await start(dirB, 'B', clients, op);
  try {
    for (const s of [a, b]) await slice(s, 500, clients, false, op); // warm-up
    const ratios: number[] = [];
    for (let i = 0; i < Number(slices); i++) {
      const order = i % 2 === 0 ? [a, b] : [b, a];
      for (const s of order) await slice(s, Number(sliceMs), clients, true, op);
      ratios.push((b.apiPerWrite.at(-1) as number) / (a.apiPerWrite.at(-1) as number));
    }
    for (const [s, dir] of [
      [a, dirA],
      [b, dirB],
    ] as const) {
      const us = (x: number): string => ((x * 1000) / s.ops).toFixed(1);
      console.log(
        `${s.name} ${dir}: ${((s.ops * 1000) / s.ms).toFixed(0)} ${op}s/s; CPU µs/${op}: API thread ${us(s.api)}, ` +
          `node thread ${us(s.node)}, other threads ${us(s.rest)}; API thread switches/${op} ${(s.switches / s.ops).toFixed(2)} ` +
          `(load ${loadavg()[0]?.toFixed(1)})`,
      );
    }
    const lower = ratios.filter((r) => r < 1).length;
    console.log(
      `B/A API-thread CPU per ${op}, median over ${ratios.length} rounds: ${median(ratios).toFixed(3)} (B lower in ${lower} of ${ratios.length})`,
    );
  } finally {
    // A side exits on its own when disconnected (so that a --cpu-prof profile is written); killed if it does not.
    await Promise.all(
      [a, b].map(async (s) => {
        s.agent.destroy();
        const exited = new Promise((r) => s.child.once('exit', r));
        s.child.disconnect();
        const timer = setTimeout(() => s.child.kill(), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** What every Get is answered with: a 100-byte value, as the read benchmark's. */
const GOT: GetResult = {
  found: true,
  value: 'v'.repeat(100),
  index: 1,
  readMode: 'lease',
  staleByMs: 0,
  revision: 1,
  createRevision: 1,
  modRevision: 1,
  version: 1,
};

/** One side: the checkout's API thread over a backend that answers Puts once per turn and Gets at once. */
async function serve(dir: string, op: Op): Promise<void> {
  const host = (await import(
    join(dir, 'dist/server/api-thread/host.js')
  )) as typeof import('../server/api-thread/host.ts');
  let revision = 0;
  let waiting: (() => void)[] = [];
  const answerAll = (): void => {
    const w = waiting;
    waiting = [];
    for (const f of w) f();
  };
  const putQuick = (): Promise<{ index: number; revision: number }> =>
    new Promise((resolve) => {
      if (waiting.push(() => resolve({ index: ++revision, revision })) === 1) setImmediate(answerAll);
    });
  const getNow = (): GetResult => GOT;
  const get = (): Promise<GetResult> => Promise.resolve(GOT);
  // A checkout whose API thread packs plain Puts (put-pack.ts) hands them over as encoded commands.
  const putCommand = (_cmd: Uint8Array, _timeoutMs: number, done: (err: unknown, r: unknown) => void): void => {
    if (waiting.push(() => done(null, { index: ++revision, revision })) === 1) setImmediate(answerAll);
  };
  const backend = { putQuick, put: putQuick, putCommand, getNow, get } as unknown as Parameters<
    typeof host.startApiThread
  >[0]['backend'];
  let leaseView: SharedArrayBuffer | undefined;
  if (op === 'get') {
    // A lease that does not end while this runs, at revision 1: nothing changes, so every key read
    // once is answered on the API thread from then on.
    leaseView = newLeaseViewBuffer();
    new LeaseViewWriter(leaseView, () => performance.now()).publish({
      untilMs: performance.now() + 86_400_000,
      commit: 1,
      applied: 1,
      revision: 1,
    });
  }
  const api = await host.startApiThread({
    host: '127.0.0.1',
    port: 0,
    backend,
    ...(leaseView === undefined ? {} : { leaseView }),
  });
  process.send?.(api.port);
  process.on('disconnect', () => void api.close().then(() => process.exit(0)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') await serve(args[1] as string, (args[2] ?? 'put') as Op);
  else await main(args);
}
