// Agreement with the published verdicts of the 103 Jepsen etcd register histories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConformance, conformanceRows } from './conformance-data.ts';

const BUDGET_MS = 30_000;

test('etcd: every known verdict agrees; etcd_095 finishes within the budget', (t) => {
  const rows = conformanceRows().filter((r) => r.model === 'register-cas');
  assert.equal(rows.length, 103);
  const disagreements: string[] = [];
  for (const row of rows) {
    const r = checkConformance(row, BUDGET_MS);
    if (row.expected === 'no-published-verdict') {
      assert.ok(r.elapsedMs < BUDGET_MS + 1_000);
      t.diagnostic(`${row.file}: ${r.verdict} in ${r.elapsedMs.toFixed(0)} ms (no published verdict)`);
    } else if (r.verdict !== row.expected) {
      disagreements.push(`${row.file}: expected ${row.expected}, got ${r.verdict}`);
    }
  }
  assert.deepEqual(disagreements, []);
});
