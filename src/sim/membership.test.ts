// Membership changes in the simulator: they happen (grow, shrink, remove the leader, replace a wiped
// member under a new id, slow transfers, the raft-dev 2015 script), the real core survives them,
// and a membership seed replays exactly. The mutants they expose are in mutants-membership.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeScenario } from './scenario.ts';
import { simulateSeed } from './run.ts';

/** The first `count` seeds from `from` whose scenario has membership plans. */
function membershipSeeds(from: number, count: number, nodes: number): number[] {
  const out: number[] = [];
  for (let s = from; out.length < count; s++) if (makeScenario(s, nodes, null).membership) out.push(s);
  return out;
}

test('membership plans run and the real core survives them (3 and 5 nodes)', () => {
  const seen = { grow: 0, removeLeader: 0, replace: 0, transfer: 0, script2015: 0, wiped: 0 };
  const failures: string[] = [];
  for (const nodes of [3, 5] as const) {
    for (const seed of membershipSeeds(1, 40, nodes)) {
      const r = simulateSeed({ seed, nodes, mutant: null, linCheckBudgetMs: 1000 });
      if (r.violations.length > 0) failures.push(`seed ${seed} (${nodes} nodes): ${r.violations[0] ?? ''}`);
      const t = r.trace.join('\n');
      if (/promote n[6-9]/.test(t)) seen.grow++;
      if (/FAULT remove (n\d+) proposed at \1\b/.test(t)) seen.removeLeader++;
      if (/disk is lost \(it will be replaced\)/.test(t)) seen.wiped++;
      if (/FAULT remove n\d+ proposed/.test(t) && /disk is lost/.test(t)) seen.replace++;
      if (/TimeoutNow late/.test(t)) seen.transfer++;
      if (/raft-dev 2015/.test(t)) seen.script2015++;
    }
  }
  assert.deepEqual(failures, []);
  // The trace keeps the last 200 events only, so these are lower bounds; each kind must show up.
  for (const [k, v] of Object.entries(seen)) assert.ok(v > 0, `${k} never seen in 80 membership seeds`);
});

test('a membership seed replays identically; seeds without membership are untouched by it', () => {
  const [seed] = membershipSeeds(1, 1, 3);
  const a = simulateSeed({ seed: seed!, nodes: 3, mutant: null });
  const b = simulateSeed({ seed: seed!, nodes: 3, mutant: null });
  assert.equal(a.events, b.events);
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual(a.history, b.history);
  assert.match(a.scenario, /membership gap=/);
  let plain = 1;
  while (makeScenario(plain, 3, null).membership) plain++;
  assert.doesNotMatch(simulateSeed({ seed: plain, nodes: 3, mutant: null }).scenario, /membership/);
});
