// The mutant suite, part 2 (see mutants.test.ts): each deliberately broken core must be caught by some oracle within
// a bounded number of seeds. The caps are a few times the first failing seed measured when the
// suite was written (docs/simulator.md), so a weakened oracle or fault schedule fails this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Mutant } from '../raft/types.ts';
import { nodesForSeed } from './args.ts';
import { simulateSeed } from './run.ts';

/** mutant → [seeds to try from seed 1, oracle expected to fire]. */
const SUITE: readonly (readonly [Mutant, number, RegExp])[] = [
  ['read-before-noop', 700, /stale|linearizability/],
  ['transfer-keeps-lease', 250, /stale|linearizability/],
];

for (const [mutant, cap, oracle] of SUITE) {
  test(`mutant ${mutant} is caught within ${cap} seeds`, () => {
    for (let seed = 1; seed <= cap; seed++) {
      const r = simulateSeed({ seed, nodes: nodesForSeed({ nodes: null }, seed), mutant, linCheckBudgetMs: 500 });
      if (r.violations.length > 0) {
        assert.match(r.violations[0] ?? '', oracle);
        return;
      }
    }
    assert.fail(`${mutant}: no violation in ${cap} seeds`);
  });
}
