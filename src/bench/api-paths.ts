// Measures the client API's request paths (issue 5): the JSON fast path against
// the plain Connect path, node:http keep-alive against fetch (undici), and the LeasekvClient.
// Closed loop, C concurrent callers, server in its own process over the fake backend.
// Run: node --import tsx src/bench/api-paths.ts [seconds=3] [concurrency=16]
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { LeasekvClient } from '../client/index.ts';

const seconds = Number(process.argv[2] ?? 3);
const concurrency = Number(process.argv[3] ?? 16);

async function startServer(mode: 'fast' | 'connect'): Promise<{ port: number; child: ChildProcess }> {
  const script = fileURLToPath(new URL('./api-serve-fake.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('bench server exited')));
  });
  return { port, child };
}

type Op = () => Promise<void>;

function serverCpuUs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (u: { user: number; system: number }) => resolve(u.user + u.system));
    child.send('cpu');
  });
}

async function run(name: string, op: Op, server: ChildProcess): Promise<void> {
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) await op(); // warm up
  const cpu0 = await serverCpuUs(server);
  const end = performance.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await op();
      lat.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const dt = (performance.now() - t0) / 1000;
  const cpuPerReqUs = ((await serverCpuUs(server)) - cpu0) / Math.max(1, lat.length);
  lat.sort((a, b) => a - b);
  const q = (p: number): string => (lat[Math.floor(p * (lat.length - 1))] ?? 0).toFixed(2);
  console.log(
    `${name.padEnd(44)} ${String(Math.round(lat.length / dt)).padStart(7)} req/s  p50 ${q(0.5)} ms  p99 ${q(0.99)} ms  server CPU ${Math.round(cpuPerReqUs)} µs/req`,
  );
}

function httpOp(agent: Agent, port: number, path: string, body: string): Op {
  const buf = Buffer.from(body);
  return () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': buf.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(buf);
    });
}

function fetchOp(port: number, path: string, body: string): Op {
  return async () => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  };
}

console.log(
  `${seconds} s per row, ${concurrency} concurrent callers, 100-byte values; fast and connect rows interleaved`,
);
const servers = { fast: await startServer('fast'), connect: await startServer('connect') };
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const clients = {
  fast: new LeasekvClient({ endpoints: [`127.0.0.1:${servers.fast.port}`], maxConcurrency: concurrency }),
  connect: new LeasekvClient({ endpoints: [`127.0.0.1:${servers.connect.port}`], maxConcurrency: concurrency }),
};
let i = 0;
const rows: [string, (mode: 'fast' | 'connect') => Op][] = [
  ['Get, node:http keep-alive', (m) => httpOp(agent, servers[m].port, '/leasekv.v1.KV/Get', '{"key":"key7"}')],
  ['Put, node:http keep-alive', (m) => httpOp(agent, servers[m].port, '/leasekv.v1.KV/Put', '{"key":"k","value":"v"}')],
  ['Get, fetch (undici)', (m) => fetchOp(servers[m].port, '/leasekv.v1.KV/Get', '{"key":"key7"}')],
  ['LeasekvClient.get', (m) => async () => void (await clients[m].get(`key${i++ % 1000}`))],
  ['LeasekvClient.put (session)', (m) => async () => void (await clients[m].put(`key${i++ % 1000}`, 'v'))],
];
for (const [name, op] of rows) {
  for (const mode of ['fast', 'connect'] as const) await run(`${mode}: ${name}`, op(mode), servers[mode].child);
}
await clients.fast.close();
await clients.connect.close();
agent.destroy();
servers.fast.child.kill('SIGTERM');
servers.connect.child.kill('SIGTERM');
