// The mutant suite, part 3 (see mutants.test.ts): the membership mutants of issue 12, each caught by
// some oracle within a bounded number of seeds. Their seeds always run membership plans
// (scenario.ts); caps are about 1.5–2× the first failing seed measured (docs/simulator.md).
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const MEMBERSHIP_SUITE: MutantSuite = [
  ['removed-leader-keeps-lease', 60, /stale|linearizability/],
  ['rejoin-with-empty-disk', 30, /leader completeness|election safety|lease exclusivity|lost|stale/],
  ['change-before-term-commit', 300, /leader completeness|state machine safety|log matching|lost|stale/],
  ['new-voter-counts-before-ack', 150, /lease exclusivity|stale/],
];

mutantTests(MEMBERSHIP_SUITE);
