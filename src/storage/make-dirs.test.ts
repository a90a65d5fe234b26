// makeDirs (fs.ts): `mkdir -p` that fails instead of spinning where Node's recursive mkdir spins
// for ever (a path under /proc: `serve --data-dir /proc/x` hung at 100% CPU, deaf to SIGTERM).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeDirs } from './fs.ts';
import { tempDir } from './test-util.ts';

test('creates the missing folders of a path; an existing folder is fine', (t) => {
  const dir = tempDir(t, 'leasekv-mkdirs-');
  const deep = join(dir, 'a', 'b', 'c');
  makeDirs(deep);
  assert.ok(statSync(deep).isDirectory());
  makeDirs(deep);
  makeDirs(dir);
});

test('a file in the way, or a dangling symlink, is an error naming the path', (t) => {
  const dir = tempDir(t, 'leasekv-mkdirs-');
  writeFileSync(join(dir, 'f'), '');
  assert.throws(() => makeDirs(join(dir, 'f')), /ENOTDIR/);
  assert.throws(() => makeDirs(join(dir, 'f', 'x')), /ENOTDIR/);
  symlinkSync(join(dir, 'not-mounted'), join(dir, 'link'));
  assert.throws(() => makeDirs(join(dir, 'link')), /ENOENT/);
  assert.throws(() => makeDirs(join(dir, 'link', 'n1')), /ENOENT/);
});

test(
  'a path under /proc fails at once with ENOENT (Node recursive mkdir spins there)',
  { skip: !existsSync('/proc/self') },
  () => {
    // In a child, with a time limit: a regression hangs synchronously, which would hang this file.
    const fsTs = fileURLToPath(new URL('./fs.ts', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '-e', `import(${JSON.stringify(fsTs)}).then((m) => m.makeDirs('/proc/leasekv-no-such/n1'))`],
      { encoding: 'utf8', timeout: 120_000 /* a hang; tsx's start-up alone can take 20 s under load */ },
    );
    assert.equal(r.signal, null, 'makeDirs must not hang under /proc');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ENOENT/);
  },
);
