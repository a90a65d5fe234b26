// Real processes, test 4: restart everything on the same data dirs — first a graceful SIGTERM of
// every node, then a kill -9 of every node — and check that every acknowledged write is intact,
// read linearizably through the leader and stale from every node.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster, type Cluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

const KEYS_PER_ROUND = 60;
const WRITERS = 6;

function clientFor(c: Cluster): LeaderClient {
  return new LeaderClient(new Map(c.ids.map((id) => [id, c.endpoint(id)])), 3000);
}

/**
 * Writes KEYS_PER_ROUND fresh keys and overwrites one shared key, with WRITERS concurrent writers
 * and sessions (so retries are exactly-once). Records what was acknowledged in `acked`.
 */
async function writeRound(c: Cluster, round: string, acked: Map<string, string>): Promise<void> {
  const leader = await c.waitForLeader();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      const client = clientFor(c);
      client.use(leader);
      let seq = 0;
      for (let i = w; i < KEYS_PER_ROUND; i += WRITERS) {
        const [key, value] = i % 10 === 0 ? ['shared', `${round}-${i}`] : [`${round}/k${i}`, `${round}-v${i}`];
        seq++;
        const r = lastResult(await client.untilOk('Put', { key, value, clientId: `${round}-w${w}`, seq }, 10_000));
        assert.equal(r.kind, 'ok', `write ${key}: ${showResult(r)}`);
        if (key !== 'shared') acked.set(key, value);
      }
    }),
  );
  // The shared key's final value: whichever acknowledged overwrite came last (read it back once).
  const r = lastResult(await clientFor(c).untilOk('Get', { key: 'shared' }, 10_000));
  assert.equal(r.kind, 'ok', showResult(r));
  acked.set('shared', String(r.body['value']));
}

async function checkIntact(c: Cluster, acked: ReadonlyMap<string, string>, when: string): Promise<void> {
  const client = clientFor(c);
  client.use(await c.waitForLeader());
  for (const [key, value] of acked) {
    const r = lastResult(await client.untilOk('Get', { key }, 10_000));
    assert.ok(
      r.kind === 'ok' && r.body['found'] === true && r.body['value'] === value,
      `${when}: ${key} should be ${value}: ${showResult(r)}`,
    );
  }
  const [someKey, someValue] = [...acked][0] as [string, string];
  for (const id of c.ids) {
    // Every node has the data too (after catching up): check all keys by stale reads.
    await waitFor(
      `${id} to hold every acknowledged key (${when})`,
      30_000,
      async () => {
        const probe = await call(c.endpoint(id), 'Get', { key: someKey, consistency: 'STALE' }, 1000);
        if (probe.kind !== 'ok' || probe.body['value'] !== someValue) return undefined;
        for (const [key, value] of acked) {
          const s = await call(c.endpoint(id), 'Get', { key, consistency: 'STALE' }, 1000);
          if (s.kind !== 'ok' || s.body['value'] !== value) return undefined;
        }
        return true;
      },
      { intervalMs: 200 },
    );
  }
}

test('restart everything (SIGTERM all, then kill -9 all): every acknowledged write is intact', async (t) => {
  await withCluster(t, { name: 'restart' }, async (c) => {
    const acked = new Map<string, string>();
    await writeRound(c, 'r1', acked);

    await Promise.all(c.ids.map((id) => c.terminate(id))); // graceful: exit code 0 is asserted
    for (const id of c.ids) c.startNode(id);
    await checkIntact(c, acked, 'after SIGTERM of all and restart');

    await writeRound(c, 'r2', acked);
    await Promise.all(c.ids.map((id) => c.kill(id)));
    for (const id of c.ids) c.startNode(id);
    await checkIntact(c, acked, 'after kill -9 of all and restart');
    t.diagnostic(`${acked.size} acknowledged keys intact after two full restarts`);
  });
});
