// The watch and TTL mutants (issue 14, docs/simulator.md): a watch hub that loses or repeats an event,
// a host whose TTL countdowns end a grant early. Caps are several times the first failing seed.
import { mutantTests, type MutantSuite } from './test-mutants.ts';

const SUITE: MutantSuite = [
  ['watch-skip-event', 10, /^watch: .*missed revision/],
  ['watch-duplicate-on-resume', 10, /^watch: .*already covered/],
  // A new leader that keeps the countdown it ran as a follower ignores the keep-alives the old leader answered.
  ['ttl-no-restart-on-leader-change', 30, /^ttl early/],
  // A countdown of ttl (not ttl·(1+ρ)) on a fast clock ends before ttl of true time.
  ['ttl-expire-early', 30, /^ttl early/],
];

mutantTests(SUITE);
