import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChange } from './confchange.ts';
import { ConfigError, MAX_MEMBERS, defaultRaftConfig, validateRaftConfig } from './config.ts';

test('defaults are valid and satisfy the lease inequality', () => {
  const c = defaultRaftConfig('a', ['a', 'b', 'c']);
  assert.equal(c.heartbeatIntervalMs, 100);
  assert.equal(c.leaseDurationMs, 900);
  assert.equal(c.maxClockDriftRate, 0.01);
  assert.ok((c.leaseDurationMs * 1.01) / 0.99 < c.electionTimeoutMinMs);
});

test('cross-field rules throw ConfigError with a message naming the field', () => {
  const base = { id: 'a', members: ['a', 'b', 'c'] } as const;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ id: 'z' }, /not in members/],
    [{ members: ['a', 'a', 'b'] }, /unique/],
    [{ members: [] }, /members/],
    [{ leaseDurationMs: 990 }, /leaseDurationMs·\(1\+ρ\)\/\(1−ρ\)/],
    [{ heartbeatIntervalMs: 400 }, /heartbeatIntervalMs/],
    [{ electionTimeoutMaxMs: 1000 }, /electionTimeoutMaxMs/],
    [{ maxClockDriftRate: 1 }, /maxClockDriftRate/],
    [{ maxClockDriftRate: -0.01 }, /maxClockDriftRate/],
    [{ maxInflightAppends: 0 }, /maxInflightAppends/],
    [{ maxEntriesPerAppend: 1.5 }, /maxEntriesPerAppend/],
    [{ mutant: 'nope' }, /unknown mutant/],
  ];
  for (const [over, re] of cases) {
    assert.throws(
      () => validateRaftConfig({ ...base, ...over } as never),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(over),
    );
  }
});

test('a larger drift bound shrinks the lease that fits under the election timeout', () => {
  assert.doesNotThrow(() =>
    validateRaftConfig({ id: 'a', members: ['a'], maxClockDriftRate: 0.05, leaseDurationMs: 900 }),
  );
  assert.throws(
    () => validateRaftConfig({ id: 'a', members: ['a'], maxClockDriftRate: 0.06, leaseDurationMs: 900 }),
    ConfigError,
  );
});

test('at most MAX_MEMBERS (7, docs/design.md "Limits") at bootstrap and after a change', () => {
  assert.equal(MAX_MEMBERS, 7);
  const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i}`);
  assert.equal(validateRaftConfig({ id: 'n0', members: ids(5), learners: ['n5', 'n6'] }).learners.length, 2);
  assert.throws(() => validateRaftConfig({ id: 'n0', members: ids(8) }), ConfigError);
  assert.throws(() => validateRaftConfig({ id: 'n0', members: ids(6), learners: ['n6', 'n7'] }), ConfigError);
  // Membership changes once grew a configuration past the limit: an add beyond it is refused.
  const add = (voters: string[], learners: string[]): ReturnType<typeof applyChange> =>
    applyChange({ voters, learners, removed: [] }, { kind: 'add-learner', id: 'new', context: new Uint8Array(0) });
  assert.deepEqual(add(ids(5), ['n5']), { voters: ids(5), learners: ['n5', 'new'], removed: [] });
  const refused = add(ids(5), ['n5', 'n6']);
  assert.ok('refused' in refused && refused.refused === 'too-many-members', JSON.stringify(refused));
});
