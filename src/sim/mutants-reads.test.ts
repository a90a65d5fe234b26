// The mutant suite, part 2 (see mutants.test.ts): each deliberately broken core must be caught by some oracle within
// a bounded number of seeds. The caps are a few times the first failing seed measured when the
// suite was written (docs/simulator.md), so a weakened oracle or fault schedule fails this test.
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const SUITE: MutantSuite = [
  ['read-before-noop', 700, /stale|linearizability/],
  ['transfer-keeps-lease', 250, /stale|linearizability/],
];

mutantTests(SUITE);
