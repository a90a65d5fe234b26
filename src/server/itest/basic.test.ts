// Real processes, test 1: elect; write through the leader; linearizable read on the leader; stale
// reads on every node converge; a follower answers not-leader with the leader hint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

test('3 real nodes: elect, write via the leader, read everywhere, followers hint the leader', async (t) => {
  await withCluster(t, { name: 'basic' }, async (c) => {
    const leader = await c.writeViaLeader('greeting', 'hello');
    const client = new LeaderClient(new Map(c.ids.map((id) => [id, c.endpoint(id)])), 3000);
    client.use(leader); // it normally answers at once; retries only if leadership just moved

    const get = lastResult(await client.untilOk('Get', { key: 'greeting' }, 15_000)); // LINEARIZABLE is the default
    assert.equal(get.kind, 'ok', showResult(get));
    assert.equal(get.body['found'], true);
    assert.equal(get.body['value'], 'hello');
    assert.ok(['READ_MODE_LEASE', 'READ_MODE_READ_INDEX'].includes(String(get.body['readMode'])), showResult(get));

    for (const id of c.ids) {
      const seen = await waitFor(`stale read of 'greeting' on ${id}`, 5000, async () => {
        const r = await call(c.endpoint(id), 'Get', { key: 'greeting', consistency: 'STALE' }, 1000);
        return r.kind === 'ok' && r.body['value'] === 'hello' ? r : undefined;
      });
      assert.equal(seen.body['readMode'], 'READ_MODE_STALE', `${id}: ${showResult(seen)}`);
    }

    // Followers refuse, naming the leader. Leadership may move meanwhile on a loaded machine, so
    // the refusal is asserted every time and the hint once it is consistent with a fresh view.
    const accepted: string[] = [];
    await waitFor('followers to refuse and hint the current leader', 30_000, async () => {
      const now = await c.waitForLeader();
      const nowAddr = `127.0.0.1:${(c.endpoint(now) as { port: number }).port}`;
      let hintsOk = true;
      for (const id of c.ids.filter((x) => x !== now)) {
        for (const [method, body] of [
          ['Put', { key: 'k', value: 'v' }],
          ['Get', { key: 'greeting' }],
          ['CompareAndSwap', { key: 'k', value: 'v' }],
        ] as const) {
          const r = await call(c.endpoint(id), method, body, 3000);
          if (r.kind !== 'error' || r.code !== 'failed_precondition')
            accepted.push(`${method} on ${id} (leader ${now}): ${showResult(r)}`);
          else if (r.leader !== now || r.leaderAddr !== nowAddr) hintsOk = false;
        }
      }
      return hintsOk ? true : undefined;
    });
    assert.deepEqual(accepted, [], 'a follower must refuse linearizable operations');
    // The follower's refusals did not write anything.
    const k = lastResult(await client.untilOk('Get', { key: 'k' }, 15_000));
    assert.ok(k.kind === 'ok' && k.body['found'] !== true, showResult(k));
  });
});
