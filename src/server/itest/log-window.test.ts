// Real processes, issue 16: the core keeps only a window of the log in memory (--log-window-bytes);
// a follower that falls further behind than that is caught up with entries the leader reads back
// from its WAL — not with a snapshot (none is taken: the snapshot thresholds are far away).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

const WINDOW_BYTES = 64 * 1024;
const WRITES = 300;
const VALUE = 'v'.repeat(2000); // 300 × 2 KB ≈ 600 KB: about ten windows behind

test('a follower lagging beyond the log window catches up from WAL reads, without a snapshot', async (t) => {
  const settings = {
    'log-window-bytes': WINDOW_BYTES,
    'snapshot-threshold': 10_000_000,
    'snapshot-threshold-bytes': 4 * 1024 * 1024 * 1024,
  };
  await withCluster(t, { name: 'logwindow', settings }, async (c) => {
    const leader = await c.writeViaLeader('start', '1');
    const lagging = c.ids.find((id) => id !== leader)!;
    await c.kill(lagging);
    const others = c.ids.filter((id) => id !== lagging);
    const client = new LeaderClient(new Map(others.map((id) => [id, c.endpoint(id)])), 3000);
    for (let i = 0; i < WRITES; i++) {
      const r = lastResult(
        await client.untilOk('Put', { key: `k${i}`, value: `${i}${VALUE}`, clientId: 'lw', seq: i + 1 }, 10_000),
      );
      assert.equal(r.kind, 'ok', `write k${i}: ${showResult(r)}`);
    }
    c.startNode(lagging);
    await waitFor(
      `${lagging} to catch up`,
      60_000,
      async () => {
        const r = await call(c.endpoint(lagging), 'Get', { key: `k${WRITES - 1}`, consistency: 'STALE' }, 1000);
        return r.kind === 'ok' && r.body['found'] === true ? true : undefined;
      },
      { intervalMs: 200 },
    );
    for (let i = 0; i < WRITES; i += 37) {
      const r = await call(c.endpoint(lagging), 'Get', { key: `k${i}`, consistency: 'STALE' }, 1000);
      assert.ok(r.kind === 'ok' && r.body['value'] === `${i}${VALUE}`, `k${i} on ${lagging}: ${showResult(r)}`);
    }
    const logs = c.ids.map((id) => readFileSync(c.logPath(id), 'utf8')).join('\n');
    assert.doesNotMatch(
      logs,
      /sending snapshot|installed snapshot from leader/,
      'caught up from the log, not a snapshot',
    );
    assert.doesNotMatch(logs, /reading log entries for a follower failed/);
  });
});
