// Agreement with the published verdicts of the multi-key Jepsen histories (get/put/append).
// Timing of c50 is reported (docs/checker.md), never asserted: the verdicts are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConformance, conformanceRows } from './conformance-data.ts';

const BUDGET_MS = 30_000;
const rows = conformanceRows().filter((r) => r.model === 'kv-get-put-append');

test('kv: there are 6 histories, 3 linearizable and 3 not', () => {
  assert.equal(rows.length, 6);
  assert.equal(rows.filter((r) => r.expected === 'linearizable').length, 3);
});

for (const row of rows) {
  test(`${row.file}: ${row.expected} (per-key split)`, (t) => {
    const r = checkConformance(row, BUDGET_MS);
    t.diagnostic(
      `${row.file}: ${r.verdict} in ${r.elapsedMs.toFixed(0)} ms, ${r.opsChecked} operations, ${r.parts} keys`,
    );
    assert.equal(r.verdict, row.expected);
  });
}
