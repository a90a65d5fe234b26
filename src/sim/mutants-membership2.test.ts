// The mutant suite, part 4: the membership mutants that need the most seeds, in a file of their own
// so that the test runner spreads the suite over both cores (see mutants-membership.test.ts).
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const SUITE: MutantSuite = [
  ['lease-one-config', 200, /lease exclusivity|stale/],
  ['transfer-resumes-lease', 120, /stale|linearizability|lease exclusivity/],
];

mutantTests(SUITE);
