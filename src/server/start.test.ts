// `leasekv serve` that cannot start must exit, not hang: a bad timing configuration is refused before
// anything is created, and a failure after the storage was opened (a port in use) releases it. A
// SIGTERM at any step of start-up or of the stop ends the process promptly (cli/commands/serve-stop.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveArgs } from './serve-args.ts';
import { waitFor } from '../testkit/wait.ts';
import type { Settings } from '../testkit/cluster-options.ts';

const BIN = new URL('../../bin/leasekv.mjs', import.meta.url).pathname;
// Bounds that only catch a hang: a loaded machine (load 20 on 2 cores) has taken over 15 s to start one.
const START_WAIT_MS = 60_000;
const EXIT_WAIT_MS = 30_000;

/**
 * `serve` and its flags for member n1 on `dataDir` (plaintext, any free ports): by default a
 * one-member cluster; `peers` for another, `settings` for more flags.
 */
function n1(dataDir: string, o: { listenClient?: string; peers?: string; settings?: Settings } = {}): string[] {
  return serveArgs({
    insecure: true,
    id: 'n1',
    dataDir,
    listenPeer: '127.0.0.1:0',
    listenClient: o.listenClient ?? '127.0.0.1:0',
    peers: o.peers ?? 'n1=127.0.0.1:1',
    ...(o.settings === undefined ? {} : { settings: o.settings }),
  });
}

const THREE = 'n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3';

/**
 * Runs `leasekv ARGS` (serve …), with the log silenced unless `withLog`; resolves with its exit code,
 * stderr and stdout, or null if it did not exit in time.
 */
function serve(
  args: string[],
  withLog = false,
): Promise<{ code: number | null; stderr: string; stdout: string } | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, ...(withLog ? [] : ['--log-level', 'silent'])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, START_WAIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : 0 });
    });
  });
}

test('serve: a lease too long for the election timeout is a usage error, with no data folder created', async () => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-start-'));
  try {
    const dir = join(root, 'data');
    const r = await serve(n1(dir, { peers: THREE, settings: { 'lease-ms': 1500 } }));
    assert.ok(r !== null, 'the process exited');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--lease-ms 1500 is too long for --election-timeout-ms 600 .* Use --lease-ms 588 or less/);
    assert.equal(existsSync(dir), false, 'nothing created for a configuration that is refused');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('serve: a client port already in use makes the node exit 1 (storage and transport released)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-start-'));
  const taken = await listen();
  try {
    const r = await serve(n1(join(root, 'data'), { listenClient: `127.0.0.1:${taken.port}`, peers: THREE }));
    assert.ok(r !== null, 'the process exited instead of hanging after "could not start"');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /could not start: .*EADDRINUSE/);
  } finally {
    taken.server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** Starts `leasekv serve` in the background on `dir` (one-member cluster, any free ports); resolves once it serves. */
async function serveInBackground(dir: string, started: ChildProcess[]): Promise<ChildProcess & { startLog: string }> {
  const child = spawn(process.execPath, [BIN, ...n1(dir, { settings: { 'log-level': 'info' } })], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child);
  let out = '';
  const serving = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), START_WAIT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"serving"')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => resolve(false));
  });
  assert.ok(serving, `serve did not start: ${out}`);
  child.stdout.resume();
  return Object.assign(child, { startLog: out });
}

function lockPid(dir: string): number {
  return (JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')) as { pid: number }).pid;
}

/** The exit code; a signal's name if one ended it; 'hung' (and SIGKILL) if it did not exit within EXIT_WAIT_MS. */
function exited(child: ChildProcess): Promise<number | string> {
  const outcome = (): number | string => child.exitCode ?? child.signalCode ?? 'unknown';
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(outcome());
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('hung');
    }, EXIT_WAIT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(outcome());
    });
  });
}

/** A test's temp folder (`dir`, the data dir inside it, not yet created) and the processes it started. */
interface Scratch {
  readonly root: string;
  readonly dir: string;
  readonly started: ChildProcess[];
}

/** A process test: after it, every process it started that still runs is killed and its folder removed. */
function processTest(name: string, body: (s: Scratch) => Promise<void>): void {
  test(name, async () => {
    const root = mkdtempSync(join(tmpdir(), 'leasekv-start-'));
    const s: Scratch = { root, dir: join(root, 'data'), started: [] };
    try {
      await body(s);
    } finally {
      for (const c of s.started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
}

processTest(
  'serve: a second process on the same data dir exits at once naming the holder; kill -9 leaves a lock the next start takes over',
  async ({ dir, started }) => {
    const first = await serveInBackground(dir, started);
    assert.equal(lockPid(dir), first.pid);
    const second = await serve(n1(dir));
    assert.ok(second !== null, 'the second process exited');
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^leasekv serve: data dir .* is in use: locked by pid ${first.pid} on host \\S+ since \\d{4}-\\d\\d-\\d\\dT.*stop that process first\\n$`,
      ),
    );
    assert.equal(first.exitCode, null, 'the first process still runs');
    // Read-only tools still work on a locked dir.
    const inspect = spawnSync(process.execPath, [BIN, 'wal', 'inspect', dir], { encoding: 'utf8' });
    assert.equal(inspect.status, 0, inspect.stderr);

    first.kill('SIGTERM');
    assert.equal(await exited(first), 0);
    assert.equal(existsSync(join(dir, 'LOCK')), false, 'released on a clean stop');

    const third = await serveInBackground(dir, started);
    third.kill('SIGKILL');
    await exited(third);
    assert.equal(existsSync(join(dir, 'LOCK')), true, 'kill -9 leaves the lock behind');
    assert.equal(lockPid(dir), third.pid);
    const fourth = await serveInBackground(dir, started);
    assert.equal(lockPid(dir), fourth.pid, 'the stale lock was taken over');
    assert.match(fourth.startLog, new RegExp(`took over a stale data-dir lock of pid ${third.pid}`));
    fourth.kill('SIGTERM');
    assert.equal(await exited(fourth), 0);
  },
);

/**
 * `serve` with the test-only pause at `point` (LEASEKV_TEST_PAUSE_AT, cli/commands/serve-stop.ts):
 * resolves once it says it paused there (or, for 'stopping', reached only after a signal, once it
 * serves), with its stdout (the log) and stderr kept on the child.
 */
async function pausedAt(
  args: string[],
  point: string,
  started: ChildProcess[],
): Promise<ChildProcess & { out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEASEKV_TEST_PAUSE_AT: point },
  });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ready = (): boolean =>
    point === 'stopping' ? out.includes('"msg":"serving"') : err.includes(`test pause at ${point}\n`);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exit.then(() => (gone = true));
  await waitFor(`serve to pause at ${point}`, START_WAIT_MS, ready, {
    hopeless: () => (gone ? `it exited: ${err} ${out}` : undefined),
  });
  return Object.assign(child, { out: () => out, err: () => err });
}

/** `serve ARGS` paused at `point`, then sent one SIGTERM: asserts that it exits with `code`; returns it, its output kept. */
async function signalledAt(
  args: string[],
  point: string,
  started: ChildProcess[],
  code: number,
): Promise<ChildProcess & { out: () => string; err: () => string }> {
  const child = await pausedAt(args, point, started);
  child.kill('SIGTERM');
  assert.equal(await exited(child), code, `${point}: ${child.err()}`);
  return child;
}

const INFO = { 'log-level': 'info' } as const;

processTest(
  'serve: a SIGTERM at each step of start-up stops the node promptly with code 0, the lock released; it then restarts',
  async ({ dir, started }) => {
    // In order, on one data dir: the first runs find it absent, the later ones recover it.
    const steps = ['before-lock', 'locked', 'storage-opened', 'transport-started', 'serving'] as const;
    for (const point of steps) {
      const child = await signalledAt(n1(dir, { settings: INFO }), point, started, 0);
      assert.equal(existsSync(join(dir, 'LOCK')), false, `${point}: the lock is released`);
      assert.match(child.out(), /"msg":"SIGTERM received (while starting|: stopping gracefully)/);
      const last =
        point === 'serving' ? /"msg":"stopped"/ : new RegExp(`"at":"${point}".*"msg":"stopped before serving`);
      assert.match(child.out(), last, point);
    }
    const again = await serveInBackground(dir, started);
    assert.doesNotMatch(again.startLog, /stale data-dir lock/);
    again.kill('SIGINT');
    assert.equal(await exited(again), 0);
    assert.equal(existsSync(join(dir, 'LOCK')), false);
  },
);

processTest(
  'serve: a stop that does not finish ends at a second SIGTERM (130) or at --stop-timeout-ms (1), each with one clear line',
  async ({ dir, started }) => {
    // The hook holds the stop at its first step for 30 s: as a stop that hangs would.
    const first = await pausedAt(n1(dir, { settings: { ...INFO, 'stop-timeout-ms': 60_000 } }), 'stopping', started);
    first.kill('SIGTERM');
    await waitFor('the stop to reach its pause', EXIT_WAIT_MS, () => first.err().includes('test pause at stopping'));
    first.kill('SIGTERM');
    assert.equal(await exited(first), 130, first.err());
    assert.match(first.out(), /"msg":"second SIGTERM: exiting now, without finishing the stop"/);

    const second = await signalledAt(
      n1(dir, { settings: { ...INFO, 'stop-timeout-ms': 300 } }),
      'stopping',
      started,
      1,
    );
    assert.match(
      second.out(),
      /"msg":"the stop did not finish within 300 ms \(--stop-timeout-ms\): exiting now, code 1"/,
    );
    // The lock of a process that ended without its stop is stale: the next start takes it over.
    const third = await serveInBackground(dir, started);
    assert.match(third.startLog, new RegExp(`took over a stale data-dir lock of pid ${second.pid}`));
    third.kill('SIGTERM');
    assert.equal(await exited(third), 0);
  },
);

processTest(
  'serve --join: a SIGTERM while waiting for the members ends the wait at once (code 0, nothing left behind)',
  async ({ dir, started }) => {
    const nobody = await listen(); // accepts and never answers: the join waits (30 s) for a member
    try {
      const args = serveArgs({
        insecure: true,
        id: 'n4',
        dataDir: dir,
        listenPeer: '127.0.0.1:0',
        listenClient: '127.0.0.1:0',
        join: [`127.0.0.1:${nobody.port}`],
        settings: INFO,
      });
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor('the join to begin', START_WAIT_MS, () =>
        out.includes('"msg":"asking the members for the cluster configuration (--join)"'),
      );
      child.kill('SIGTERM');
      assert.equal(await exited(child), 0);
      assert.match(out, /"at":"join".*"msg":"stopped before serving/);
      assert.equal(existsSync(join(dir, 'LOCK')), false, 'the lock is released');
    } finally {
      nobody.server.close();
    }
  },
);

processTest(
  'serve: an operator restarting with a wrong flag gets one line on stderr and a usage exit code, nothing created',
  async ({ root, dir, started }) => {
    const taken = await listen();
    try {
      // A data dir of member n1 (its identity is recorded before the transport starts). The cases run
      // at once: only the first takes its lock.
      await signalledAt(n1(dir), 'transport-started', started, 0);
      const missing = join(root, 'dta');
      const file = join(root, 'a-file');
      writeFileSync(file, 'x');
      const base = { insecure: true, listenPeer: '127.0.0.1:0', listenClient: '127.0.0.1:0' };
      const cases: { what: string; args: string[]; code: number; line: RegExp }[] = [
        {
          what: 'another id',
          args: serveArgs({ ...base, id: 'n2', dataDir: dir }),
          code: 2,
          line: /refusing to start: the data dir .* belongs to member n1 .*start it with --id n1/,
        },
        {
          what: 'a data dir not there, without --peers',
          args: serveArgs({ ...base, id: 'n1', dataDir: missing }),
          code: 2,
          line: /refusing to start: the data dir .*dta does not exist: check the path, or give --peers/,
        },
        {
          what: 'a data dir that is a file',
          args: serveArgs({ ...base, id: 'n1', dataDir: file }),
          code: 2,
          line: /--data-dir .*a-file is not a folder/,
        },
        {
          what: 'a TLS file not there',
          args: serveArgs({
            ...base,
            insecure: false,
            id: 'n1',
            dataDir: dir,
            settings: Object.fromEntries(
              ['tls-cert', 'tls-key', 'tls-ca', 'peer-tls-cert', 'peer-tls-key', 'peer-tls-ca'].map((f) => [
                f,
                join(root, `${f}.pem`),
              ]),
            ),
          }),
          code: 2,
          line: /--tls-cert .*tls-cert\.pem: ENOENT/,
        },
        {
          what: 'a client port in use',
          args: n1(join(root, 'other'), { listenClient: `127.0.0.1:${taken.port}` }),
          code: 1,
          line: /could not start: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/,
        },
      ];
      const results = await Promise.all(cases.map((c) => serve([...c.args, '--log-level', 'info'], true)));
      cases.forEach((c, i) => {
        const r = results[i];
        assert.ok(r !== null && r !== undefined, `${c.what}: the process exited`);
        assert.equal(r.code, c.code, `${c.what}: ${r.stderr}`);
        assert.match(r.stderr, /^leasekv serve: [^\n]+\n$/, `${c.what}: one line`);
        assert.match(r.stderr.trimEnd(), c.line, c.what);
        assert.doesNotMatch(r.stdout, /"level":(50|60)|\n\s+at /, `${c.what}: no error logged with a stack`);
      });
      assert.equal(existsSync(missing), false, 'the mistyped data dir is not created');
      assert.equal(existsSync(join(dir, 'LOCK')), false);
    } finally {
      taken.server.close();
    }
  },
);
