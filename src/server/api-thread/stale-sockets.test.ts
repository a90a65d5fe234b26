// The sweep of admin-socket folders left by killed nodes: removes a dead node's folder (its socket
// file left by kill -9), keeps a live node's, a young one, and anything not named or shaped like ours.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADMIN_DIR_PREFIX, STALE_MIN_AGE_MS, sweepStaleAdminDirs } from './stale-sockets.ts';

const base = mkdtempSync(join(tmpdir(), 'stale-sockets-test-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('a killed node’s folder goes; a live, a young and a foreign one stay', async () => {
  const dead = join(base, `${ADMIN_DIR_PREFIX}dead`);
  mkdirSync(dead);
  // A real socket file with nobody behind it: a child listens, then is killed with SIGKILL.
  const r = spawnSync(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(join(dead, 'admin.sock'))}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(existsSync(join(dead, 'admin.sock')));
  const empty = join(base, `${ADMIN_DIR_PREFIX}empty`);
  mkdirSync(empty);

  const live = join(base, `${ADMIN_DIR_PREFIX}live`);
  mkdirSync(live);
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(join(live, 'admin.sock'), resolve));
  const foreign = join(base, 'other-app-dead');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'admin.sock'), '');
  const file = join(base, `${ADMIN_DIR_PREFIX}file`);
  writeFileSync(file, '');

  try {
    // Everything is seconds old: as seen from now, nothing is old enough to judge.
    assert.equal(await sweepStaleAdminDirs(base, Date.now()), 0);
    assert.ok(existsSync(dead));
    // A minute later: the dead and the empty folders go.
    assert.equal(await sweepStaleAdminDirs(base, Date.now() + STALE_MIN_AGE_MS + 1000), 2);
    assert.ok(!existsSync(dead));
    assert.ok(!existsSync(empty));
    assert.ok(existsSync(join(live, 'admin.sock')), 'a live node keeps its socket');
    assert.ok(existsSync(foreign) && existsSync(file), 'not ours: left alone');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('a missing temp directory is nothing to sweep', async () => {
  assert.equal(await sweepStaleAdminDirs(join(base, 'no-such-dir'), Date.now()), 0);
});
