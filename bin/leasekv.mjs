#!/usr/bin/env node
// The `leasekv` command. Runs the compiled build (dist/, `npm run build`; the packed package ships
// it) when it was built from exactly these sources, and otherwise the TypeScript sources through
// tsx, so that `npx leasekv` works right after `npm ci` with no build step to remember and an edit
// never runs stale code. The compiled build saves tsx's loader in every thread: memory and start-up
// time (docs/storage.md, "Memory"). LEASEKV_RUN=source forces the sources; LEASEKV_RUN=compiled
// refuses to start without a matching build.
import { compiledStale } from './compiled.mjs';

const mode = process.env['LEASEKV_RUN'] ?? 'auto';
if (mode !== 'auto' && mode !== 'source' && mode !== 'compiled') {
  console.error(`leasekv: LEASEKV_RUN must be auto, source or compiled, got ${JSON.stringify(mode)}`);
  process.exit(2);
}
const stale = mode === 'source' ? 'LEASEKV_RUN=source' : compiledStale();
if (stale === null) {
  await import('../dist/cli/main.js');
} else if (mode === 'compiled') {
  console.error(`leasekv: LEASEKV_RUN=compiled, but dist/ cannot run (${stale}): run \`npm run build\``);
  process.exit(2);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
