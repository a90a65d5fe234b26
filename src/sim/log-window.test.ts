// Issue 16: the simulator runs the core with a window of a few entries (run.ts, SIM_LOG_WINDOW_BYTES),
// so leaders serve lagging followers from storage reads in ordinary seeds — through the real WAL
// (Wal.readEntries) in the seeds that use it — with every oracle on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulateSeed } from './run.ts';

test('log reads run in ordinary seeds, on the model disk and the real WAL, with no violation', () => {
  const failures: string[] = [];
  const sum = { mem: 0, wal: 0 };
  for (let seed = 1; seed <= 30; seed++) {
    const r = simulateSeed({ seed, nodes: [3, 5][seed % 2]!, mutant: null, linCheckBudgetMs: 500 });
    if (r.violations.length > 0) failures.push(`seed ${seed}: ${r.violations[0] ?? ''}`);
    if (r.wal === null) sum.mem += r.logReads.entries;
    else sum.wal += r.logReads.entries;
  }
  assert.deepEqual(failures, []);
  assert.ok(sum.mem > 100 && sum.wal > 100, `entries read back: ${JSON.stringify(sum)}`);
});
