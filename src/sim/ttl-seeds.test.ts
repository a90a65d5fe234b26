// Seeds on which the TTL oracle (oracles-ttl.ts) once caught the product (docs/lease-safety.md,
// "TTL grants"): each must now run without a violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulateSeed } from './run.ts';

test('a grant is answered only as a keep-alive is: never by a paused or cut-off old leader', () => {
  // 5696 (7 nodes): n1, leader of term 2, paused, resumed, applied grant 8 (committed and counted
  // by n5 since before) and answered it 28 ms before n5's expire; 5907 (3 nodes): n2, a leader
  // without a lease, likewise 102 ms before.
  for (const [seed, nodes] of [
    [5696, 7],
    [5907, 3],
  ] as const) {
    const r = simulateSeed({ seed, nodes, mutant: null, linCheckBudgetMs: 100 });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
  }
});

test('a leader handing leadership over stops counting (it could propose no expire)', () => {
  // 3530 (7 nodes): n2, removed and transferring to n6, kept counting and answering keep-alives
  // while every expire proposal was refused, so a stopped grant outlived the late bound.
  const r = simulateSeed({ seed: 3530, nodes: 7, mutant: null, linCheckBudgetMs: 100 });
  assert.deepEqual(r.violations, [], 'seed 3530');
});
