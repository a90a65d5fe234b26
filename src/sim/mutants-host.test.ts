// The host-layer mutants (src/host, docs/simulator.md): the simulator runs the real drive loop, so a
// broken host must be caught like a broken core. Caps are a few times the first failing seed.
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const SUITE: MutantSuite = [
  // Power losses at the instant the leader commits lose the entries a follower acknowledged early.
  ['ack-before-fsync', 200, /leader completeness|lost write|state machine safety|log matching|stale/],
  ['apply-uncommitted', 20, /stale|state machine safety|linearizability|lost write/],
  // Only the exactly-once oracle sees a retried write applied twice.
  ['session-dedupe-off', 30, /exactly-once/],
];

mutantTests(SUITE);
