// The mutant suite, part 3 (see mutants.test.ts): the membership mutants of issue 12, each caught by
// some oracle within a bounded number of seeds. Their seeds always run membership plans
// (scenario.ts); caps are about 1.5–2× the first failing seed measured (docs/simulator.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Mutant } from '../raft/types.ts';
import { nodesForSeed } from './args.ts';
import { simulateSeed } from './run.ts';

/** mutant → [seeds to try from seed 1, oracle expected to fire]. */
const MEMBERSHIP_SUITE: readonly (readonly [Mutant, number, RegExp])[] = [
  ['removed-leader-keeps-lease', 20, /stale|linearizability/],
  ['rejoin-with-empty-disk', 30, /leader completeness|election safety|lease exclusivity|lost|stale/],
  ['change-before-term-commit', 300, /leader completeness|state machine safety|log matching|lost|stale/],
  ['new-voter-counts-before-ack', 400, /lease exclusivity|stale/],
];

for (const [mutant, cap, oracle] of MEMBERSHIP_SUITE) {
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
