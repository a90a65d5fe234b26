// Test kit for the mutant suite (mutants*.test.ts): one test per mutant, which must be caught by the
// expected oracle within `cap` seeds from seed 1 (docs/simulator.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimMutant } from './scenario.ts';
import { nodesForSeed } from './args.ts';
import { simulateSeed } from './run.ts';

/** mutant → [seeds to try from seed 1, oracle expected to fire]. */
export type MutantSuite = readonly (readonly [SimMutant, number, RegExp])[];

/** Registers one node:test test per mutant of the suite. */
export function mutantTests(suite: MutantSuite): void {
  for (const [mutant, cap, oracle] of suite) {
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
}
