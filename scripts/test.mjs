// Runs every *.test.ts under src/ with node's test runner (through tsx).
// Usage: node scripts/test.mjs [path-substring ...]  — only files whose path contains a substring.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk('src', [])
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
/** The whole run's limit: a clean run takes 5–10 min on a 2-core machine. */
const RUN_LIMIT_MS = 40 * 60_000;
const concurrency = process.env.LEASEKV_TEST_CONCURRENCY ?? '2';
const res = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    // Then where the time went (scripts/test-slowest.mjs), after every file has run.
    `--test-reporter=${new URL('./test-slowest.mjs', import.meta.url).href}`,
    '--test-reporter-destination=stdout',
    ...files,
  ],
  // A file whose handles outlive its tests (a browser launched late, say) must not hang a CI run for
  // good; --test-force-exit would end such a file but also drops the slowest-tests reporter's output.
  { stdio: 'inherit', timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' },
);
if (res.signal !== null) {
  console.error(`test run ended by ${res.signal} (limit ${RUN_LIMIT_MS / 60_000} min): a test file did not finish`);
  process.exit(1);
}
process.exit(res.status ?? 1);
