// `leasekv serve` that cannot start must exit, not hang: a bad timing configuration is refused before
// anything is created, and a failure after the storage was opened (a port in use) releases it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = new URL('../../bin/leasekv.mjs', import.meta.url).pathname;
const EXIT_WAIT_MS = 15_000;

/** Runs `leasekv serve ARGS`; resolves with its exit code and stderr, or null if it did not exit in time. */
function serve(args: string[]): Promise<{ code: number | null; stderr: string } | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args, '--log-level', 'silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, EXIT_WAIT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
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
    const r = await serve(['--id', 'n1', '--data-dir', dir, '--listen-peer', '127.0.0.1:0', '--listen-client', '127.0.0.1:0', '--peers', 'n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3', '--lease-ms', '1500']);
    assert.ok(r !== null, 'the process exited');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /must be below electionTimeoutMinMs/);
    assert.equal(existsSync(dir), false, 'nothing created for a configuration that is refused');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('serve: a client port already in use makes the node exit 1 (storage and transport released)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-start-'));
  const taken = await listen();
  try {
    const r = await serve(['--id', 'n1', '--data-dir', join(root, 'data'), '--listen-peer', '127.0.0.1:0', '--listen-client', `127.0.0.1:${taken.port}`, '--peers', 'n1=127.0.0.1:1,n2=127.0.0.1:2,n3=127.0.0.1:3']);
    assert.ok(r !== null, 'the process exited instead of hanging after "could not start"');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /could not start: .*EADDRINUSE/);
  } finally {
    taken.server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
