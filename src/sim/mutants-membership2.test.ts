// The mutant suite, part 4: the membership mutants that need the most seeds, in a file of their own
// so that the test runner spreads the suite over both cores (see mutants-membership.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Mutant } from '../raft/types.ts';
import { nodesForSeed } from './args.ts';
import { simulateSeed } from './run.ts';

const SUITE: readonly (readonly [Mutant, number, RegExp])[] = [
  ['lease-one-config', 400, /lease exclusivity|stale/],
  ['transfer-resumes-lease', 60, /stale|linearizability|lease exclusivity/],
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
