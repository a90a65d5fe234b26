import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFORMANCE_DIR } from './conformance-data.ts';
import { parseJepsenKv } from './jepsen.ts';
import { checkHistory, groupParts } from './parallel.ts';

test('groupParts balances parts by size and never makes empty groups', () => {
  const parts = [['a', [1, 2, 3, 4]], ['b', [1, 2, 3]], ['c', [1, 2]], ['d', [1]]] as const;
  const groups = groupParts(parts, 2);
  assert.deepEqual(groups.map((g) => g.reduce((n, [, ops]) => n + ops.length, 0)).sort(), [5, 5]);
  assert.equal(groupParts(parts, 8).length, 4);
});

test('worker threads reach the same verdicts as the single-thread checker', async () => {
  for (const [file, expected] of [['c10-ok.txt', 'linearizable'], ['c10-bad.txt', 'not-linearizable']] as const) {
    const ops = parseJepsenKv(readFileSync(join(CONFORMANCE_DIR, 'kv', file), 'utf8'));
    const r = await checkHistory(ops, { timeoutMs: 30_000, workers: 2 });
    assert.equal(r.verdict, expected, file);
    if (expected === 'not-linearizable') assert.ok(r.violation !== undefined && r.violation.unplaced.length > 0);
  }
});
