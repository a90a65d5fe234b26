// The simulator against the real core: many seeds with the full fault menu must show no violation,
// and a seed must replay exactly. (The oracles' teeth are shown in mutants.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulateSeed } from './run.ts';

function runMany(nodes: number, first: number, count: number): string[] {
  const failures: string[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const r = simulateSeed({ seed, nodes, mutant: null, linCheckBudgetMs: 1000 });
    if (r.violations.length > 0) failures.push(`seed ${seed} (${nodes} nodes): ${r.violations[0] ?? ''}`);
  }
  return failures;
}

test('200 seeds, 3 nodes, full fault menu: no violation', () => {
  assert.deepEqual(runMany(3, 1, 200), []);
});

test('200 seeds, 5 nodes, full fault menu: no violation', () => {
  assert.deepEqual(runMany(5, 1, 200), []);
});

test('a seed replays identically (trace, history, event count)', () => {
  for (const [seed, nodes] of [
    [7, 3],
    [11, 5],
    [12, 7],
  ] as const) {
    const a = simulateSeed({ seed, nodes, mutant: null });
    const b = simulateSeed({ seed, nodes, mutant: null });
    assert.equal(a.events, b.events);
    assert.deepEqual(a.trace, b.trace);
    assert.deepEqual(a.history, b.history);
    assert.ok(a.history.length > 50, 'the clients did work');
    const c = simulateSeed({ seed: seed + 1000, nodes, mutant: null });
    assert.notDeepEqual(c.history, a.history, 'another seed runs differently');
  }
});
