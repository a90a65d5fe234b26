// The client subcommands as a user runs them: `node bin/leasekv.mjs <cmd> ...` against an API server
// over a fake backend.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeBackend } from '../../server/api/fake-backend.ts';
import type { ApiServer } from '../../server/api/server.ts';
import { fakeServer } from '../../server/api/test-util.ts';
import { cliEnv } from './cli-test-util.ts';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
/** Only a hang: a CLI run loads the sources through tsx, which took over 20 s at load 35 (a full run beside others). */
const CLI_HANG_MS = 120_000;

function leasekv(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: cliEnv(env), timeout: CLI_HANG_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('leasekv client commands', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let ep: string;
  before(async () => {
    ({ server, backend } = await fakeServer());
    ep = `127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  test('put, get, cas, del, scan (simple output)', async () => {
    const put = await leasekv(['put', 'greeting', 'hello world', '--endpoints', ep]);
    assert.deepEqual([put.code, put.stdout], [0, 'OK\n'], put.stderr);
    // LEASEKV_ENDPOINTS is honoured; two commands at once to save time.
    const [get, missing] = await Promise.all([
      leasekv(['get', 'greeting'], { LEASEKV_ENDPOINTS: ep }),
      leasekv(['get', 'nope', '--consistency', 'stale', '--endpoints', ep]),
    ]);
    assert.deepEqual([get.code, get.stdout], [0, 'hello world\n'], get.stderr);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /key 'nope' not found/);
    const [casBad, casAbsent] = await Promise.all([
      leasekv(['cas', 'greeting', 'wrong', 'x', '--endpoints', ep]),
      leasekv(['cas', '--absent', 'fresh', 'new', '--endpoints', ep]),
    ]);
    assert.equal(casBad.code, 1);
    assert.match(casBad.stderr, /compare failed: current value is "hello world"/);
    assert.deepEqual([casAbsent.code, casAbsent.stdout], [0, 'OK\n'], casAbsent.stderr);
    const [scan, del] = await Promise.all([
      leasekv(['scan', 'f', '--endpoints', ep]),
      leasekv(['del', 'greeting', '--endpoints', ep]),
    ]);
    assert.deepEqual([scan.code, scan.stdout], [0, 'fresh\tnew\n']);
    assert.deepEqual([del.code, del.stdout], [0, '1\n']);
    assert.equal(backend.data.has('greeting'), false);
  });

  test('-w json and status table', async () => {
    const [get, status] = await Promise.all([
      leasekv(['get', 'fresh', '-w', 'json', '--endpoints', ep]),
      leasekv(['status', '--endpoints', `${ep},127.0.0.1:1`]),
    ]);
    assert.equal(get.code, 0, get.stderr);
    const j = JSON.parse(get.stdout) as Record<string, unknown>;
    assert.ok(typeof j['index'] === 'number' && j['index'] > 0);
    assert.deepEqual(
      { ...j, index: 0, revision: 0 },
      {
        key: 'fresh',
        found: true,
        value: 'new',
        index: 0,
        readMode: 'lease',
        staleByMs: 0,
        revision: 0,
        createRevision: 2,
        modRevision: 2,
        version: 1,
      },
    );
    // One node unreachable: still a table, but exit code 1.
    assert.equal(status.code, 1);
    const lines = status.stdout.trim().split('\n');
    // The cause is under an ERROR column, not under VERSION (session 11 audit).
    assert.match(
      lines[0]!,
      /^ENDPOINT\s+ID\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+LEASE\s+KEYS\s+VERSION\s+PROTOCOL\s+CLUSTER PROTOCOL\s+ERROR$/,
    );
    assert.match(
      lines[1]!,
      new RegExp(`^${ep.replace(/\./g, '\\.')}\\s+n1\\s+leader\\s+3\\s+n1\\s+\\d+\\s+\\d+\\s+held 850ms`),
    );
    // A backend without protocol versions (a build before them): '-' under both.
    assert.match(lines[1]!, /\sfake\s+-\s+-\s+-$/);
    assert.match(lines[2]!, /^127\.0\.0\.1:1\s+-\s+unreachable(\s+-){9}\s+127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  test('txn from a file and from standard input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasekv-txn-'));
    try {
      const file = join(dir, 't.json');
      writeFileSync(
        file,
        JSON.stringify({
          compare: [{ key: 'tx', target: 'version', result: '=', value: 0 }],
          success: [
            { op: 'put', key: 'tx', value: '1' },
            { op: 'get', key: 'tx' },
          ],
        }),
      );
      const ok = await leasekv(['txn', file, '--endpoints', ep]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^SUCCEEDED \(revision \d+\)\nput OK\nget tx\t1\n$/);
      const again = await leasekv(['txn', file, '-w', 'json', '--endpoints', ep]);
      assert.equal(again.code, 1, 'the comparison fails the second time');
      assert.equal((JSON.parse(again.stdout) as { succeeded: boolean }).succeeded, false);
      const stdin = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          [BIN, 'txn', '--endpoints', ep],
          { env: cliEnv(), timeout: CLI_HANG_MS },
          (err, stdout, stderr) => {
            resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
          },
        );
        child.stdin?.end('{"success":[{"op":"range","prefix":"tx"}]}');
      });
      assert.deepEqual(
        [stdin.code, stdin.stdout],
        [
          0,
          `SUCCEEDED (revision ${backend.data.size > 0 ? (JSON.parse(again.stdout) as { revision: number }).revision : 0})\nrange 1\ntx\t1\n`,
        ],
        stdin.stderr,
      );
      writeFileSync(file, '{"compare": {}}');
      const bad = await leasekv(['txn', file, '--endpoints', ep]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /'compare' must be an array/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('usage errors exit 2, operation errors exit 1, --help exits 0', async () => {
    const [noArgs, badFlag, badEndpoint, help, badArg] = await Promise.all([
      leasekv(['put', 'onlykey', '--endpoints', ep]),
      leasekv(['get', 'k', '--consistency', 'strong', '--endpoints', ep]),
      leasekv(['get', 'k', '--endpoints', 'nohost']),
      leasekv(['scan', '--help']),
      leasekv(['get', '', '--endpoints', ep]),
    ]);
    assert.equal(noArgs.code, 2);
    assert.match(noArgs.stderr, /expected KEY VALUE/);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--consistency must be linearizable or stale/);
    assert.equal(badEndpoint.code, 2);
    assert.match(badEndpoint.stderr, /not host:port/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: leasekv scan/);
    assert.match(help.stdout, /--endpoints/);
    assert.equal(badArg.code, 1);
    assert.match(badArg.stderr, /invalid_argument: .*key must not be empty/);
  });
});
