// The supervisor with stand-in children (idle node processes) and TCP echo servers as the peer
// ports: kill/pause/resume/restart act on real processes, isolate really cuts the proxied links
// (both directions), and the control API refuses foreign origins and requests without its header.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { startSupervisor, type Supervisor } from './supervisor.ts';
import { freePort, waitFor } from '../testkit/wait.ts';
import { EXIT_MEMBER_REMOVED } from '../server/removal.ts';

let sup: Supervisor | null = null;
const echoes: Server[] = [];
const routesSeen = new Map<string, string>();

before(async () => {
  const nodes = [];
  for (const id of ['a', 'b', 'c']) {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoes.push(echo);
    const addr = echo.address();
    nodes.push({
      id,
      clientAddr: `127.0.0.1:${await freePort()}`,
      peerAddr: `127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`,
    });
  }
  sup = await startSupervisor({
    nodes,
    controlPort: 0,
    stopTimeoutMs: 2000,
    spawn(id, routes, env) {
      routesSeen.set(id, routes);
      assert.match(env['LEASEKV_CONTROL_URL'] ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      return spawn(
        process.execPath,
        ['-e', 'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(0))'],
        { stdio: 'ignore' },
      );
    },
  });
});

after(async () => {
  await sup?.close();
  for (const e of echoes) e.close();
});

/** True if a byte sent through HOST:PORT comes back (the link works). */
function linkWorks(addr: string): Promise<boolean> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('data', () => done(true));
    s.once('error', () => done(false));
    s.once('close', () => done(false));
    s.setTimeout(1000, () => done(false));
    s.write('x');
  });
}

const proxyOf = (from: string, to: string): string => {
  const entry = (routesSeen.get(from) ?? '').split(',').find((p) => p.startsWith(`${to}=`));
  assert.ok(entry !== undefined, `${from}'s --peer-routes names ${to}`);
  return entry.slice(to.length + 1);
};

const control = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${sup?.controlUrl ?? ''}${path}`, init);
const act = (id: string, action: string, origin?: string): Promise<Response> =>
  control(`/nodes/${id}/${action}`, {
    method: 'POST',
    headers: { 'x-leasekv-control': '1', ...(origin === undefined ? {} : { origin }) },
  });

test('supervisor: every node dials each peer through its own proxy; isolate cuts both directions, heal restores', async () => {
  assert.ok(sup !== null, 'started');
  assert.notEqual(proxyOf('a', 'b'), proxyOf('c', 'b'), 'one proxy per directed pair');
  assert.equal(await linkWorks(proxyOf('a', 'b')), true);
  assert.equal((await act('b', 'isolate')).status, 200);
  assert.equal(await linkWorks(proxyOf('a', 'b')), false, 'a cannot reach isolated b');
  assert.equal(await linkWorks(proxyOf('b', 'c')), false, 'isolated b cannot reach c');
  assert.equal(await linkWorks(proxyOf('a', 'c')), true, 'the others still talk');
  assert.equal((await act('b', 'heal')).status, 200);
  assert.equal(await linkWorks(proxyOf('b', 'c')), true);
});

test('supervisor: pause, resume, kill and restart act on the real processes', async () => {
  assert.ok(sup !== null, 'started');
  const pid0 = sup.states().find((s) => s.id === 'a')?.pid;
  assert.ok(typeof pid0 === 'number', 'a has a pid');
  const paused = (await (await act('a', 'pause')).json()) as { state: string };
  assert.equal(paused.state, 'paused');
  assert.equal((await act('a', 'resume')).status, 200);
  const killed = (await (await act('a', 'kill')).json()) as {
    state: string;
    lastExit: string;
    stoppedByControl: boolean;
  };
  assert.deepEqual([killed.state, killed.lastExit, killed.stoppedByControl], ['stopped', 'SIGKILL', true]);
  assert.throws(() => process.kill(pid0, 0), 'the process is gone');
  assert.equal((await act('a', 'pause')).status, 409, 'cannot pause a stopped node');
  const restarted = (await (await act('a', 'restart')).json()) as { state: string; pid: number };
  assert.equal(restarted.state, 'running');
  assert.notEqual(restarted.pid, pid0);
  const list = (await (await control('/nodes')).json()) as { nodes: { id: string; state: string }[] };
  assert.deepEqual(
    list.nodes.map((n) => n.state),
    ['running', 'running', 'running'],
  );
});

test("supervisor control API: only the nodes' origins, only with the control header", async () => {
  assert.ok(sup !== null, 'started');
  const own = [...sup.allowedOrigins][0] ?? '';
  assert.equal((await act('c', 'pause', 'http://evil.example')).status, 403);
  const noHeader = await control('/nodes/c/pause', { method: 'POST' });
  assert.equal(noHeader.status, 400);
  assert.equal(sup.states().find((s) => s.id === 'c')?.state, 'running', 'refused requests changed nothing');
  const pre = await control('/nodes/c/pause', {
    method: 'OPTIONS',
    headers: { origin: own, 'access-control-request-method': 'POST' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), own);
  assert.equal((await act('nope', 'kill')).status, 404);
  const add = await control('/members/add', { method: 'POST', headers: { 'x-leasekv-control': '1' } });
  assert.equal(add.status, 409, 'no membership changes without the membership hooks');
  assert.equal((await control('/members/add', { method: 'POST' })).status, 400, 'add needs the control header too');
  assert.equal((await act('c', 'remove-member')).status, 409);
  assert.equal((await act('c', 'explode')).status, 404);
});

/** A raw request with the given Host header (fetch would set its own). */
function withHost(method: string, path: string, host: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL(sup?.controlUrl ?? '');
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('supervisor control API: a Host other than its own address is refused (DNS rebinding)', async () => {
  assert.ok(sup !== null, 'started');
  const port = new URL(sup.controlUrl).port;
  // A rebinding page is same-origin with the server: its GET carries no Origin, only its own Host.
  assert.equal(await withHost('GET', '/nodes', `evil.example:${port}`), 403);
  assert.equal(await withHost('POST', '/nodes/c/pause', `evil.example:${port}`, { 'x-leasekv-control': '1' }), 403);
  assert.equal(await withHost('GET', '/nodes', `127.0.0.1:${Number(port) + 1}`), 403, 'another port is another server');
  assert.equal(sup.states().find((s) => s.id === 'c')?.state, 'running', 'refused requests changed nothing');
  assert.equal(await withHost('GET', '/nodes', `127.0.0.1:${port}`), 200);
  assert.equal(await withHost('GET', '/nodes', `localhost:${port}`), 200);
});

test('supervisor: a member whose process exits with EXIT_MEMBER_REMOVED is shown removed and not restarted; removed members are never started, added ones are, without proxies', async () => {
  const spawned: string[] = [];
  const exitCode = new Map<string, number>([['b', EXIT_MEMBER_REMOVED]]);
  const s = await startSupervisor({
    nodes: ['a', 'b', 'c'].map((id, i) => ({
      id,
      clientAddr: `127.0.0.1:${40_000 + i}`,
      peerAddr: `127.0.0.1:${40_100 + i}`,
    })),
    added: [{ id: 'd', clientAddr: '127.0.0.1:40003', peerAddr: '127.0.0.1:40103' }],
    removed: ['c'],
    controlPort: 0,
    stopTimeoutMs: 2000,
    spawn(id, routes) {
      spawned.push(`${id}:${routes === '' ? 'direct' : 'proxied'}`);
      const code = exitCode.get(id);
      return spawn(
        process.execPath,
        [
          '-e',
          code === undefined
            ? 'setInterval(() => {}, 1000); process.on("SIGTERM", () => process.exit(0))'
            : `process.exit(${code})`,
        ],
        { stdio: 'ignore' },
      );
    },
  });
  try {
    assert.deepEqual(spawned.sort(), ['a:proxied', 'b:proxied', 'd:direct']);
    await waitFor('b exits', 10_000, () => s.states().find((st) => st.id === 'b')?.state === 'removed');
    const byId = new Map(s.states().map((st) => [st.id, st]));
    assert.equal(byId.get('a')?.state, 'running');
    assert.equal(byId.get('c')?.state, 'removed');
    assert.equal(byId.get('d')?.state, 'running');
    assert.match(byId.get('b')?.lastExit ?? '', /code 3: removed from the cluster/);
    await assert.rejects(s.act('b', 'restart'), /b was removed from the cluster: its id can never rejoin/);
    await assert.rejects(s.act('c', 'restart'), /c was removed from the cluster/);
  } finally {
    await s.close();
  }
});
