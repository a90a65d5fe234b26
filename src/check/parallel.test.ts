import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFORMANCE_DIR } from './conformance-data.ts';
import { parseJepsenKv } from './jepsen.ts';
import { checkHistory, groupParts, SOLO_FIRST_MS } from './parallel.ts';
import type { HistoryOp } from './history.ts';

test('groupParts balances parts by size and never makes empty groups', () => {
  const parts = [
    ['a', [1, 2, 3, 4]],
    ['b', [1, 2, 3]],
    ['c', [1, 2]],
    ['d', [1]],
  ] as const;
  const groups = groupParts(parts, 2);
  assert.deepEqual(groups.map((g) => g.reduce((n, [, ops]) => n + ops.length, 0)).sort(), [5, 5]);
  assert.equal(groupParts(parts, 8).length, 4);
});

test('worker threads reach the same verdicts as the single-thread checker', async () => {
  for (const [file, expected] of [
    ['c10-ok.txt', 'linearizable'],
    ['c10-bad.txt', 'not-linearizable'],
  ] as const) {
    const ops = parseJepsenKv(readFileSync(join(CONFORMANCE_DIR, 'kv', file), 'utf8'));
    const r = await checkHistory(ops, { timeoutMs: 30_000, workers: 2 });
    assert.equal(r.verdict, expected, file);
    if (expected === 'not-linearizable') assert.ok(r.violation !== undefined && r.violation.unplaced.length > 0);
  }
});

test('automatic mode: parts still open after the solo phase go to workers, within the budget', async () => {
  // Two keys with 40 concurrent unknown appends and an impossible read: undecidable in seconds.
  const ops: HistoryOp[] = [];
  for (const key of ['h1', 'h2']) {
    for (let i = 0; i < 40; i++)
      ops.push({ client: i, op: 'append', key, value: `<${i}>`, call: i, return: null, outcome: 'unknown' });
    ops.push({
      client: 99,
      op: 'get',
      key,
      call: 100,
      return: 101,
      outcome: 'ok',
      output: { found: true, value: 'no' },
    });
  }
  const start = performance.now();
  const r = await checkHistory(ops, { timeoutMs: SOLO_FIRST_MS + 1_500 });
  assert.equal(r.verdict, 'unknown');
  assert.deepEqual(
    r.undecided.map((p) => p.key),
    ['h1', 'h2'],
  );
  assert.ok(performance.now() - start < SOLO_FIRST_MS + 1_500 + 5_000, 'bounded by the budget plus the workers grace');
});
