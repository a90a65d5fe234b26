// `npx leasekv … &` then `kill $!` (session 13 outside-in audit): npx runs the command as npm's
// grandchild (npm → sh -c → node) and a kill of npm ends npm and its shell only. bin/leasekv.mjs
// stops the orphan under npx (npm_command=exec); run any other way, a command whose parent exits
// keeps running (nohup, a script that starts it in the background), as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { waitFor } from '../testkit/wait.ts';

const BIN = new URL('../../bin/leasekv.mjs', import.meta.url).pathname;

/** A port that accepts and never answers: the watch connected to it waits (and shows it started). */
async function silentPort(): Promise<{ server: Server; port: number; connected: Promise<void>; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  let connected!: () => void;
  const seen = new Promise<void>((r) => (connected = r));
  const server = createServer((s) => {
    sockets.push(s);
    connected();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0, connected: seen, sockets };
}

/** `sh -c 'node leasekv watch … & echo $!; wait'`: the shell, and the pid of the node it started. */
async function underShell(port: number, env: NodeJS.ProcessEnv) {
  const cmd = `'${process.execPath}' '${BIN}' watch k --endpoints 127.0.0.1:${port} --deadline-ms 120000 & echo $!; wait`;
  const sh = spawn('sh', ['-c', cmd], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) =>
    sh.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))),
  );
  return { sh, pid };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('under npx a leasekv command whose npm is killed stops; run otherwise it runs on', async () => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEASEKV_') && !k.startsWith('npm_')) env[k] = v;
  const a = await silentPort();
  const b = await silentPort();
  const pids: number[] = [];
  try {
    const npx = await underShell(a.port, { ...env, npm_command: 'exec' });
    const plain = await underShell(b.port, env);
    pids.push(npx.pid, plain.pid);
    // Both commands are running (their watch connected): only now is the shell killed.
    await Promise.all([a.connected, b.connected]);
    npx.sh.kill('SIGKILL');
    plain.sh.kill('SIGKILL');
    await waitFor('the orphan started under npx to stop', 30_000, () => !alive(npx.pid));
    assert.equal(alive(plain.pid), true, 'a command started otherwise runs on when its parent exits');
  } finally {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const p of [a, b]) {
      for (const s of p.sockets) s.destroy();
      p.server.close();
    }
  }
});
