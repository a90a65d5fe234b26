import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { freePorts, release } from './ports.ts';
import { REPO_ROOT } from './proc.ts';
import { waitFor } from './wait.ts';

/** Another process asks for one port in [port, port+1): its answer's first line (the ports or ERR …). */
function otherProcessAsks(port: number, o: { stayAlive?: boolean } = {}): { line: Promise<string>; kill: () => void } {
  const code = [
    `const { freePorts } = await import('./src/testkit/ports.ts');`,
    `try { console.log(JSON.stringify(await freePorts(1, '127.0.0.1', { low: ${port}, high: ${port + 1} }))); }`,
    `catch (e) { console.log('ERR ' + e.message); }`,
    o.stayAlive === true ? `setInterval(() => {}, 1000);` : '',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', () => resolve(out.split('\n')[0]!));
  });
  return { line, kill: () => child.kill('SIGKILL') };
}

test('a port handed out here is not handed to another process until released (it may not be bound yet)', async () => {
  const [port] = (await freePorts(1)) as [number];
  // Nothing listens on it now: only the reservation keeps the other process off it.
  assert.match(await otherProcessAsks(port).line, /^ERR no 1 free ports found/);
  release([port]);
  assert.equal(await otherProcessAsks(port).line, JSON.stringify([port]));
});

test('a reservation whose owner died is taken over', async (t) => {
  const [port] = (await freePorts(1)) as [number];
  release([port]);
  const owner = otherProcessAsks(port, { stayAlive: true });
  t.after(owner.kill); // also if an assertion below fails
  assert.equal(await owner.line, JSON.stringify([port]));
  await assert.rejects(freePorts(1, '127.0.0.1', { low: port, high: port + 1 }), /no 1 free ports/);
  owner.kill(); // SIGKILL: no exit hook releases it
  // Bounded: until the kernel has ended it (a probe that throws is 'not yet').
  const got = await waitFor("the dead owner's port", 20_000, () =>
    freePorts(1, '127.0.0.1', { low: port, high: port + 1 }),
  );
  assert.deepEqual(got, [port]);
  release([port]);
});
