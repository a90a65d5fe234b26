#!/usr/bin/env -S node --max-semi-space-size=4 --interrupt-budget=8192
// The line above gives the process Node's --max-semi-space-size=4 (SERVE_NODE_OPTIONS in
// src/server/serve-args.ts, bin.test checks they agree): the main thread's young generation is then
// 8 MiB instead of 32, which a node under load grows to and keeps resident (issue 16, docs/storage.md
// "Memory"); V8 reads it before any JavaScript runs, so nothing below could set it. And
// --interrupt-budget=8192: hot code is optimized sooner after start (serve-args.ts says why). It reaches a
// `leasekv serve` started from PATH, npx or a service manager. A command-line option beats
// NODE_OPTIONS, so a different size is given as `node --max-semi-space-size=N …/bin/leasekv.mjs`.
// The `leasekv` command. Runs the compiled build (dist/, `npm run build`; the packed package ships
// it) when it was built from exactly these sources, and otherwise the TypeScript sources through
// tsx, so that `npx leasekv` works right after `npm ci` with no build step to remember and an edit
// never runs stale code. The compiled build saves tsx's loader in every thread: memory and start-up
// time (docs/storage.md, "Memory"). LEASEKV_RUN=source forces the sources; LEASEKV_RUN=compiled
// refuses to start without a matching build.

// First of all, before any module loads (a second or more through tsx on a loaded machine): serve's
// SIGTERM, SIGINT and SIGHUP are caught and held, and src/cli/signals.ts takes these same listeners
// over (never removes them: Node drops a signal taken in but not yet dispatched when its listener is
// removed). Without them the default action would kill a node signalled while it loads, instead of
// its stopping cleanly (docs/design.md, "Stopping"). Other commands keep the default actions.
const argv = process.argv.slice(2);
if (argv[0] === 'serve' && !argv.includes('--help') && !argv.includes('-h')) {
  const early = { held: [], to: null };
  globalThis[Symbol.for('leasekv.signals')] = early;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
    process.on(sig, () => (early.to === null ? early.held.push(sig) : early.to(sig)));
}

// Under npx (`npm exec`, which sets npm_command=exec) this process is npm's grandchild: npm → sh -c
// → node. A kill of the npx process (`kill $!` after the README's `npx leasekv ttl keep-alive ID MS &`)
// ends npm and its shell but not this process, which ran on orphaned: keeping a TTL grant alive, a
// lock held, a watch open, ports bound (session 13 outside-in audit). So under npx, once the parent
// is gone, it stops as a SIGTERM would stop it (once: a second signal means "exit at once").
if (process.env['npm_command'] === 'exec') {
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(orphanCheck);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  orphanCheck.unref();
}

const { compiledStale } = await import('./compiled.mjs');
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
