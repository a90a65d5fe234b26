// The CLI tests' runner is not swayed by what `leasekv up` left in the folder it runs from: the
// README's two commands are `npx leasekv up` then `npm test`, in the same checkout, and with
// ./data/root.password there the CLI would authenticate as root to every stand-in node (which has
// no Auth service), failing a dozen tests that pass in a fresh clone (session 9 audit).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { leasekv, standIn } from './cli-test-util.ts';

test('a folder where `leasekv up` ran (./data/root.password) does not change what the CLI sends', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-up-folder-'));
  const home = process.cwd();
  t.after(() => {
    process.chdir(home);
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'root.password'), 'secret\n', { mode: 0o600 });
  const node = await standIn({ '/leasekv.v1.Auth/UserList': { users: [] } });
  t.after(() => node.close());
  process.chdir(dir);
  const r = await leasekv(['user', 'list', '--endpoints', node.endpoint]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    node.requests.map((q) => q.path),
    ['/leasekv.v1.Auth/UserList'],
  );
});
