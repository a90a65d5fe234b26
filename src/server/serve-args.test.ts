// What the starters of `leasekv serve` (up, the test kit, the benchmark) give a member beyond its
// flags (issue 16): Node options that keep the node thread's young generation at 8 MiB and have V8
// optimize hot code sooner, and glibc's arenas limited unless the operator chose otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { serveNodeEnv, SERVE_NODE_OPTIONS } from './serve-args.ts';

/** The main thread's young generation (MiB) of a node started with `options`, after enough garbage to grow it fully. */
function youngGenerationMiB(options: readonly string[]): number {
  const script = `
    const v8 = require('node:v8');
    let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(ns.space_size / 2 ** 20));`;
  const r = spawnSync(process.execPath, [...options, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

test("the members' Node options keep the node thread's young generation at 8 MiB (V8's default grows to 32)", () => {
  // Without them: 32 MiB on this machine (V8's default for a 64-bit heap of its size).
  assert.equal(youngGenerationMiB(SERVE_NODE_OPTIONS), 8);
});

/** Whether a small hot function is optimized by TurboFan after `calls` calls, in a node started with `options`. */
function optimizedAfter(options: readonly string[], calls: number): boolean {
  const script = `
    function hot(a) { let s = 0; for (const x of a) s += x.length; return s; }
    for (let i = 0; i < ${calls}; i++) hot(['ab', 'cde', 'f']);
    process.stdout.write(String((%GetOptimizationStatus(hot) & 16) !== 0)); // V8's kTurboFanned`;
  // Synchronous compilation, so that the answer does not depend on a background thread's timing.
  const flags = ['--allow-natives-syntax', '--no-concurrent-recompilation'];
  const r = spawnSync(process.execPath, [...options, ...flags, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout === 'true';
}

test("the members' Node options have V8 optimize hot code sooner after start (session 10)", () => {
  // 300 calls: still interpreted with V8's default interrupt budget, optimized with the members'.
  assert.equal(optimizedAfter([], 300), false);
  assert.equal(optimizedAfter(SERVE_NODE_OPTIONS, 300), true);
});

test("glibc's arenas and mmap threshold: 2 and 256 KiB unless the operator set them", () => {
  assert.deepEqual(serveNodeEnv({}), { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '262144' });
  assert.deepEqual(serveNodeEnv({ MALLOC_ARENA_MAX: '8', MALLOC_MMAP_THRESHOLD_: '131072' }), {
    MALLOC_ARENA_MAX: '8',
    MALLOC_MMAP_THRESHOLD_: '131072',
  });
});
