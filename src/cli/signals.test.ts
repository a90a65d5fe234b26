// serve's signal listeners: installed once (by bin/leasekv.mjs's first statement) and never swapped,
// so that no signal is lost between loading, start-up and running (signals.ts; docs/design.md,
// "Stopping").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdSignals, onSignals, type StopSignal } from './signals.ts';
import { sleep, waitFor } from '../testkit/wait.ts';
import { binStandIn, ROOT } from './test-bin-stand-in.ts';

test('a signal that arrives before the handler is set is handed to it, also when set in the same turn', async () => {
  holdSignals();
  const got: StopSignal[] = [];
  // Held: dispatched to the listener (an event-loop turn) before any handler exists.
  process.kill(process.pid, 'SIGHUP');
  await new Promise((r) => setImmediate(r));
  // Taken in by libuv but not yet dispatched when the handler is set (no turn in between): a
  // listener removed and another added here would lose it.
  process.kill(process.pid, 'SIGHUP');
  onSignals((sig) => got.push(sig));
  await waitFor('both SIGHUPs', 5000, () => got.length === 2);
  assert.deepEqual(got, ['SIGHUP', 'SIGHUP']);
  // This test file's process still ends on SIGTERM/SIGINT (the test runner's).
  onSignals((sig) => {
    if (sig !== 'SIGHUP') process.exit(1);
  });
});

/** Bounds that only catch a hang: a loaded machine has taken over 15 s to start a node, and a node
 * signalled while it loaded over 60 s to start and stop at load 35 (session 14). */
const EXIT_WAIT_MS = 120_000;

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
  readonly err: string;
}

/** Spawns `node SCRIPT ARGS`; `act` runs once it started; resolves when it exits (SIGKILL after EXIT_WAIT_MS). */
function outcome(
  script: string,
  args: string[],
  act: (child: ChildProcess, out: () => string) => Promise<void>,
): Promise<Outcome> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Whatever the pipes still hold (the exit event may come first).
      setImmediate(() => resolve({ code, signal, out, err }));
    });
  });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  void act(child, () => out).catch((e: unknown) => {
    err += `\n[test] ${String(e)}`;
    if (!gone()) child.kill('SIGKILL');
  });
  return exit;
}

/**
 * bin/leasekv.mjs with the real signals.ts and a stand-in main.ts that, like the real one still
 * loading its modules, has no listener of its own until the test closes its stdin; then it takes
 * the signals over (onSignals) and says which it was handed.
 */
function standIn(): string {
  const main = [
    "process.stdout.write('loading\\n');",
    "await new Promise((r) => process.stdin.on('data', () => {}).once('end', r));",
    "const { onSignals } = await import('./signals.ts');",
    'onSignals((sig) => { process.stdout.write(`handed ${sig}\\n`); process.exit(0); });',
    "setTimeout(() => { process.stdout.write('no signal\\n'); process.exit(3); }, 5000);",
  ];
  const dir = binStandIn(main.join('\n') + '\n');
  copyFileSync(join(ROOT, 'src', 'cli', 'signals.ts'), join(dir, 'src', 'cli', 'signals.ts'));
  return dir;
}

test("bin/leasekv.mjs holds serve's SIGTERM from its first statement until main.ts takes it; other commands keep the default action", async (t) => {
  const dir = standIn();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'bin', 'leasekv.mjs');
  const signalWhileLoading = async (child: ChildProcess, out: () => string): Promise<void> => {
    await waitFor('the stand-in main to load', EXIT_WAIT_MS, () => out().includes('loading\n'));
    child.kill('SIGTERM');
    child.stdin?.end();
  };
  const serve = await outcome(script, ['serve', '--id', 'n1'], signalWhileLoading);
  assert.deepEqual(serve, { code: 0, signal: null, out: 'loading\nhanded SIGTERM\n', err: '' });
  const get = await outcome(script, ['get', 'k'], signalWhileLoading);
  assert.equal(get.signal, 'SIGTERM', JSON.stringify(get));
});

/** Whether the process has a handler for SIGHUP (/proc/PID/status SigCgt): Node installs none of its own. */
function catchesHangUp(pid: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

test(
  'serve: a SIGTERM at any moment from its first statement on ends it cleanly (exit 0, no stack trace)',
  { skip: !existsSync('/proc/self/status') },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'leasekv-early-signals-'));
    try {
      // Delays after the listeners are in place (bin's first statement): loading tsx, main.ts and serve's
      // modules, building the config, the start-up steps, serving. Before that statement only Node
      // itself runs, and its default action ends the process (docs/design.md, "Stopping").
      const delaysMs = [0, 1, 3, 10, 30, 100, 300, 1000];
      for (const [i, delayMs] of delaysMs.entries()) {
        const args = ['serve', '--insecure', '--id', 'n1', '--data-dir', join(root, `d${i}`)];
        args.push('--listen-peer', '127.0.0.1:0', '--listen-client', '127.0.0.1:0', '--peers', 'n1=127.0.0.1:1');
        const r = await outcome(join(ROOT, 'bin', 'leasekv.mjs'), [...args, '--log-level', 'info'], async (child) => {
          const pid = child.pid ?? 0;
          await waitFor('the early signal listeners', EXIT_WAIT_MS, () => catchesHangUp(pid), {
            intervalMs: 1,
            hopeless: () => (child.exitCode !== null || child.signalCode !== null ? 'it exited' : undefined),
          });
          await sleep(delayMs);
          child.kill('SIGTERM');
        });
        const what = `${delayMs} ms: ${JSON.stringify(r)}`;
        assert.equal(r.signal, null, what);
        assert.equal(r.code, 0, what);
        assert.equal(r.err, '', what);
        assert.match(r.out, /"msg":"SIGTERM received/, what);
        assert.match(r.out, /"msg":"(stopped|stopped before serving: [^"]*)"/, what);
        assert.doesNotMatch(r.out, /"level":(50|60)|\\n\s+at /, what);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);
