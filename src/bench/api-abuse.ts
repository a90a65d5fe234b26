// Hostile requests against one client API server (issue 13), each alone, and how long the server's
// event loop stalls for each: the time the lease-keeping timers of a real node would lose. The server
// runs over the in-memory fake backend in its own process (api-serve-fake.ts), so that the attacker
// does not share its event loop. Every attack is bounded in count and time.
// Run: node --import tsx src/bench/api-abuse.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect as h2connect, constants as h2c } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

async function startServer(): Promise<{ port: number; child: ChildProcess }> {
  const script = fileURLToPath(new URL('./api-serve-fake.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('bench server exited')));
  });
  return { port, child };
}

function maxLagMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { maxLagMs: number }) => resolve(m.maxLagMs));
    child.send('lag');
  });
}

function post(port: number, path: string, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode ?? 0} ${(JSON.parse(text) as { code?: string }).code ?? 'ok'}`));
      },
    );
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rapidReset(port: number, streams: number): Promise<string> {
  const s = h2connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  let goaway = 'none';
  s.on('goaway', (code: number) => (goaway = `GOAWAY ${code}`));
  await new Promise((r) => s.once('connect', r));
  for (let i = 0; i < streams && !s.destroyed && !s.closed; i++) {
    const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
    r.on('error', () => undefined);
    r.close(h2c.NGHTTP2_CANCEL);
  }
  await sleep(2000);
  s.destroy();
  return goaway;
}

async function connectionBurst(port: number, n: number): Promise<string> {
  const socks: Socket[] = [];
  let refused = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = netConnect(port, '127.0.0.1', () => resolve());
          s.on('error', () => {
            refused++;
            resolve();
          });
          s.on('close', () => resolve());
          socks.push(s);
        }),
    ),
  );
  await sleep(500);
  const open = socks.filter((s) => !s.destroyed).length;
  for (const s of socks) s.destroy();
  return `${open} held open, ${n - open} reset (${refused} at connect)`;
}

const { port, child } = await startServer();
try {
  await sleep(500);
  await maxLagMs(child);
  const rows: [string, () => Promise<string>][] = [
    ['6 MiB of "[" to Get (fast path)', () => post(port, '/leasekv.v1.KV/Get', Buffer.from('['.repeat(6 << 20)))],
    ['6 MiB of "[" to Range (Connect)', () => post(port, '/leasekv.v1.KV/Range', Buffer.from('['.repeat(6 << 20)))],
    ['3000 HEADERS+RST_STREAM, one h2 connection', () => rapidReset(port, 3000)],
    ['3000 new connections at once', () => connectionBurst(port, 3000)],
  ];
  console.log('attack | answer | server event-loop max stall');
  for (const [name, attack] of rows) {
    const answer = await attack();
    console.log(`${name} | ${answer} | ${(await maxLagMs(child)).toFixed(0)} ms`);
    await sleep(1500); // let the per-second connection windows pass
  }
} finally {
  child.kill('SIGTERM');
}
