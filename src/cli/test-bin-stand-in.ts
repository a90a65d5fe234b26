// A stand-in package for the tests of bin/leasekv.mjs (bin.test.ts, signals.test.ts): the real bin
// files and node_modules, and a src/cli/main.ts of the test's own, in a temp folder.
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A new temp folder holding the stand-in, its src/cli/main.ts being `mainTs`; the caller removes it. */
export function binStandIn(mainTs: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-bin-'));
  mkdirSync(join(dir, 'bin'));
  for (const f of ['leasekv.mjs', 'compiled.mjs']) copyFileSync(join(ROOT, 'bin', f), join(dir, 'bin', f));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  mkdirSync(join(dir, 'src', 'cli'), { recursive: true });
  writeFileSync(join(dir, 'src', 'cli', 'main.ts'), mainTs);
  return dir;
}
