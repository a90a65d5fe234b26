// `leasekv member` and `leasekv leader` usage errors (the commands against a real cluster are in
// src/server/itest/membership.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    timeout: 120_000 /* only a hang: tsx start-up under load */,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('member and leader: usage errors exit 2 and say what is missing', () => {
  const none = cli('member');
  assert.equal(none.code, 2);
  assert.match(none.out, /leasekv member add ID --peer-addr HOST:PORT --client-addr HOST:PORT \[--learner\]/);
  const noAddr = cli('member', 'add', 'n4', '--client-addr', '127.0.0.1:1');
  assert.equal(noAddr.code, 2);
  assert.match(noAddr.err, /--peer-addr HOST:PORT is required/);
  const bad = cli('member', 'rm', 'n4');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown subcommand 'rm'/);
  const leader = cli('leader');
  assert.equal(leader.code, 2);
  assert.match(leader.err, /expected 'transfer'/);
});
