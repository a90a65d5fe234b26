// Builds dist/: the published client (package export "leasekv/client": JavaScript and .d.ts) and
// the compiled server and CLI that bin/leasekv.mjs runs instead of the TypeScript sources when the
// build matches them (bin/compiled.mjs). Run by `npm pack` / `npm publish` (the prepack script) and
// by `npm run bench` (its nodes run compiled, as a packed install does); dist/ is not committed.
// Usage: node scripts/build.mjs [--force]   (without --force, a build that matches the sources is kept)
//        node scripts/build.mjs --out DIR   (a build of its own elsewhere, e.g. for one bench run; DIR
//                                            must be inside the repository so that packages resolve)
//
// The sources import with .ts extensions: tsc rewrites them to .js in the emitted JavaScript
// (rewriteRelativeImportExtensions) but keeps them in the declarations, which older TypeScript
// versions refuse; so the declarations' relative specifiers are rewritten to .js here too.
// Workers are started by code, not imports (src/util/worker-boot.ts), so their modules are entry
// points in tsconfig.build.json; files read beside a module (the dashboard's assets) are copied.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { compiledStale, ROOT, sourcesHash, STAMP, STAMP_FORMAT } from '../bin/compiled.mjs';

const dist = join(ROOT, 'dist');
const ASSET_DIRS = ['server/dashboard/assets'];

const outAt = process.argv.indexOf('--out');
const target = outAt < 0 ? null : process.argv[outAt + 1];
if (target === undefined || target?.startsWith('-')) {
  console.error('build: --out takes a folder');
  process.exit(2);
}
if (target === null && !process.argv.includes('--force') && compiledStale() === null) {
  console.log('build: dist/ already matches the sources');
  process.exit(0);
}
// Built beside dist/ and then moved into place, with the stamp written last: a `leasekv` started
// meanwhile sees either no stamp or the previous build whole.
if (target !== null && existsSync(target)) {
  console.error(`build: ${target} exists (--out writes a new folder only)`);
  process.exit(2);
}
const out = target ?? join(ROOT, `dist.building-${process.pid}`);
rmSync(out, { recursive: true, force: true });

// JavaScript for the client, server and CLI (tsconfig.server.json), then the client's declarations
// alone (tsconfig.build.json: ES2022 types only, what an app compiling against them has).
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
for (const config of ['tsconfig.server.json', 'tsconfig.build.json']) {
  const res = spawnSync(process.execPath, [tsc, '-p', join(ROOT, config), '--outDir', out], { stdio: 'inherit' });
  if (res.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    console.error(`build: tsc -p ${config} failed`);
    process.exit(res.status ?? 1);
  }
}

/** `from './x.ts'`, `import('../y.ts')` → .js; only relative specifiers. */
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*)\.ts\2/g;
let declarations = 0;
const sources = [];
for (const rel of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
  const path = join(out, rel);
  const posix = rel.split(sep).join('/');
  if (rel.endsWith('.js')) sources.push(posix.replace(/\.js$/, '.ts'));
  if (!rel.endsWith('.d.ts')) continue;
  const text = readFileSync(path, 'utf8');
  const replaced = text.replace(RELATIVE_TS, '$1$2$3.js$2');
  if (replaced !== text) writeFileSync(path, replaced);
  declarations++;
}
if (declarations === 0 || !sources.includes('cli/main.ts')) {
  console.error('build: tsc emitted no declarations or no cli/main.js');
  process.exit(1);
}
for (const dir of ASSET_DIRS) {
  cpSync(join(ROOT, 'src', dir), join(out, dir), { recursive: true });
  for (const f of readdirSync(join(ROOT, 'src', dir), { recursive: true, encoding: 'utf8' }))
    sources.push(
      relative(join(ROOT, 'src'), join(ROOT, 'src', dir, f))
        .split(sep)
        .join('/'),
    );
}
sources.sort();
const hash = sourcesHash(sources);
if (hash === null) {
  console.error('build: a compiled source is missing under src/');
  process.exit(1);
}
if (target !== null) {
  writeFileSync(join(out, STAMP), `${JSON.stringify({ format: STAMP_FORMAT, hash, files: sources }, null, 1)}\n`);
  console.log(`build: ${out} written (${sources.length} sources)`);
  process.exit(0);
}
// Another build (a concurrent `npm pack`, a bench) may have finished meanwhile: keep its dist/.
if (compiledStale() === null) {
  rmSync(out, { recursive: true, force: true });
  console.log('build: dist/ was built meanwhile from the same sources');
  process.exit(0);
}
rmSync(dist, { recursive: true, force: true });
renameSync(out, dist);
writeFileSync(join(dist, STAMP), `${JSON.stringify({ format: STAMP_FORMAT, hash, files: sources }, null, 1)}\n`);
console.log(`build: dist/ written (${sources.length} sources, ${declarations} declaration files)`);
