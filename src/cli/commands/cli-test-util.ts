// Test helper: runs the `leasekv` command as a user does (`node bin/leasekv.mjs ...`).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));

/**
 * The environment the CLI runs in under test: the caller's, minus what `leasekv up` leaves for the
 * CLI to find by itself — ./data/root.password (root's password, tried on every endpoint) and the
 * recorded TLS files of local clusters — so that the tests behave the same in a checkout where
 * `npx leasekv up` has run (the README's first command) as in a fresh one. `extra` wins.
 */
export function cliEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const none = join(tmpdir(), `leasekv-cli-test-${process.pid}-none`); // never created
  return {
    ...process.env,
    LEASEKV_ROOT_PASSWORD_FILE: join(none, 'root.password'),
    LEASEKV_CONFIG_HOME: none,
    ...extra,
  };
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI with `input` on stdin (stdin closed when absent); killed after 60 s. `closedStdout`:
 * its stdout's reader is gone before it writes (`leasekv … | head` once head has exited).
 */
export function leasekv(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; closedStdout?: boolean } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cliEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (opts.closedStdout === true) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A stand-in node: answers POSTs of `answers`' paths with their JSON (404 elsewhere) and records each request. */
export interface StandIn {
  readonly endpoint: string;
  readonly requests: { path: string; body: unknown }[];
  close(): Promise<void>;
}

export async function standIn(answers: Readonly<Record<string, object>>): Promise<StandIn> {
  const requests: { path: string; body: unknown }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const text = Buffer.concat(chunks).toString('utf8');
      requests.push({ path, body: text === '' ? undefined : (JSON.parse(text) as unknown) });
      const body = answers[path];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { code: 'not_found', message: 'no such method' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
