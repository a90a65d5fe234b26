// The mutant suite (issue 2 §5): each deliberately broken core must be caught by some oracle within
// a bounded number of seeds. The caps are a few times the first failing seed measured when the
// suite was written (docs/simulator.md), so a weakened oracle or fault schedule fails this test.
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const SUITE: MutantSuite = [
  ['no-old-lease-wait', 40, /lease exclusivity/],
  ['lease-from-ack', 250, /lease exclusivity/],
  ['no-drift-margin', 150, /lease exclusivity/],
  ['vote-inside-lease', 150, /stale/],
  // read-before-noop and transfer-keeps-lease need hundreds of seeds: mutants-reads.test.ts, so
  // that the test runner spreads the suite over both cores.
];

mutantTests(SUITE);
