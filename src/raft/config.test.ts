import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultRaftConfig, validateRaftConfig } from './config.ts';

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
    assert.throws(() => validateRaftConfig({ ...base, ...over } as never), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(over));
  }
});

test('a larger drift bound shrinks the lease that fits under the election timeout', () => {
  assert.doesNotThrow(() => validateRaftConfig({ id: 'a', members: ['a'], maxClockDriftRate: 0.05, leaseDurationMs: 900 }));
  assert.throws(() => validateRaftConfig({ id: 'a', members: ['a'], maxClockDriftRate: 0.06, leaseDurationMs: 900 }), ConfigError);
});
