// Builds the published client (package export "leasekv/client") into dist/: JavaScript and .d.ts
// for src/client and what it imports (tsconfig.build.json). Run by `npm pack` / `npm publish`
// (the prepack script), so nobody has to remember it; dist/ is not committed.
// The sources import with .ts extensions: tsc rewrites them to .js in the emitted JavaScript
// (rewriteRelativeImportExtensions) but keeps them in the declarations, which older TypeScript
// versions refuse; so the declarations' relative specifiers are rewritten to .js here too.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const res = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (res.status !== 0) {
  console.error('build: tsc failed');
  process.exit(res.status ?? 1);
}

/** `from './x.ts'`, `import('../y.ts')` → .js; only relative specifiers. */
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*)\.ts\2/g;
let files = 0;
for (const rel of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!rel.endsWith('.d.ts')) continue;
  const path = join(dist, rel);
  const text = readFileSync(path, 'utf8');
  const out = text.replace(RELATIVE_TS, '$1$2$3.js$2');
  if (out !== text) writeFileSync(path, out);
  files++;
}
if (files === 0) {
  console.error('build: no declarations emitted');
  process.exit(1);
}
console.log(`build: dist/ written (${files} declaration files)`);
