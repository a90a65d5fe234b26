// bin/leasekv.mjs chooses what to run: the compiled build in dist/ only when its stamp matches the
// sources byte for byte, otherwise the TypeScript sources through tsx (bin/compiled.mjs). Tried on
// a stand-in package (a main that says which one ran) with the real bin files and node_modules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SERVE_NODE_OPTIONS } from '../server/serve-args.ts';
import { binStandIn, ROOT } from './test-bin-stand-in.ts';

interface CompiledModule {
  sourcesHash(files: readonly string[], root: string): string | null;
  readonly STAMP: string;
  readonly STAMP_FORMAT: number;
}

function standIn(): { dir: string; run: (env?: Record<string, string>) => { code: number | null; out: string } } {
  const dir = binStandIn("const from: string = 'source';\nconsole.log(from);\n");
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'cli', 'main.js'), "console.log('compiled');\n");
  const run = (env: Record<string, string> = {}): { code: number | null; out: string } => {
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEASEKV_')) base[k] = v;
    const r = spawnSync(process.execPath, [join(dir, 'bin', 'leasekv.mjs')], {
      env: { ...base, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  };
  return { dir, run };
}

test('bin runs dist/ only when its stamp matches the sources', async (t) => {
  const m = (await import(new URL('../../bin/compiled.mjs', import.meta.url).href as string)) as CompiledModule;
  const { dir, run } = standIn();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stamp = (hash: string | null, format = m.STAMP_FORMAT): void =>
    writeFileSync(join(dir, 'dist', m.STAMP), JSON.stringify({ format, hash, files: ['cli/main.ts'] }));

  // No stamp (dist/ left by something else, or a build cut short): the sources.
  assert.deepEqual(run(), { code: 0, out: 'source' });

  const hash = m.sourcesHash(['cli/main.ts'], dir);
  assert.ok(hash !== null);
  stamp(hash);
  assert.deepEqual(run(), { code: 0, out: 'compiled' });
  assert.deepEqual(run({ LEASEKV_RUN: 'compiled' }), { code: 0, out: 'compiled' });
  assert.deepEqual(run({ LEASEKV_RUN: 'source' }), { code: 0, out: 'source' });

  // A stamp of another format is not trusted.
  stamp(hash, m.STAMP_FORMAT + 1);
  assert.deepEqual(run(), { code: 0, out: 'source' });
  stamp(hash);

  // An edit after the build: the sources run; LEASEKV_RUN=compiled refuses with the reason.
  writeFileSync(join(dir, 'src', 'cli', 'main.ts'), "const from: string = 'source';\nconsole.log(from + ' edited');\n");
  assert.deepEqual(run(), { code: 0, out: 'source edited' });
  const refused = run({ LEASEKV_RUN: 'compiled' });
  assert.equal(refused.code, 2);
  assert.match(refused.out, /built from other sources.*npm run build/);

  // A compiled source deleted since the build: the stamp no longer matches either.
  stamp(m.sourcesHash(['cli/main.ts'], dir));
  assert.deepEqual(run(), { code: 0, out: 'compiled' });
  writeFileSync(join(dir, 'dist', m.STAMP), JSON.stringify({ format: m.STAMP_FORMAT, hash, files: ['cli/gone.ts'] }));
  assert.equal(run().out, 'source edited');

  const bad = run({ LEASEKV_RUN: 'fast' });
  assert.equal(bad.code, 2);
  assert.match(bad.out, /LEASEKV_RUN must be auto, source or compiled/);
});

test("bin's first line runs it with Node's SERVE_NODE_OPTIONS when executed directly", () => {
  // Executed as a file (PATH, npx, a service manager), the kernel reads the `#!/usr/bin/env -S node
  // …` line; the stand-in's main prints the Node options the process got.
  const dir = binStandIn('console.log(process.execArgv.join(" "));\n');
  try {
    const r = spawnSync(join(dir, 'bin', 'leasekv.mjs'), [], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    for (const opt of SERVE_NODE_OPTIONS) assert.ok(r.stdout.split(/\s+/).includes(opt), `${opt} in ${r.stdout}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // And the real command, executed the same way, says its version (package.json's).
  const v = spawnSync(join(ROOT, 'bin', 'leasekv.mjs'), ['--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout.trim(), /^leasekv \d+\.\d+\.\d+/);
  assert.match(v.stdout, /\npeer protocol \d+ \(speaks \d+ to \d+\)\ndata dir format \d+ \(opens 1 to \d+\)\n/);
});
