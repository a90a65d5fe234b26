// Real processes: removing the leader answers the caller. The removed leader must learn that its
// removal committed (the others keep the link to it for a while after they append the change), so
// it answers MemberRemove and hands over, as docs/api.md ("Cluster") says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { sleep } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

test('MemberRemove of the leader, sent to the leader, answers ok (not a timeout) and another member leads', async (t) => {
  await withCluster(t, { name: 'member-leave', spare: 1 }, async (c) => {
    await c.writeViaLeader('before', '1');
    await c.change('MemberAdd', { id: 'n4', peerAddr: c.peerAddr('n4'), clientAddr: c.clientAddr('n4') });
    c.startNode('n4', { join: ['n1', 'n2', 'n3'] });
    await c.waitMembers(new Map(['n1', 'n2', 'n3', 'n4'].map((m) => [m, 'voter'])), c.liveIds());
    const moved = await c.change('TransferLeadership', { target: 'n4' });
    assert.equal(moved['leader'], 'n4');
    // Retried only while refused before anything was proposed (a new leader's lease is confirmed
    // within a few heartbeats); the call that proposes must itself say the removal was made.
    let removed = await call(c.endpoint('n4'), 'MemberRemove', { id: 'n4' }, 8000);
    for (
      let i = 0;
      i < 50 && removed.kind === 'error' && /lease-not-confirmed|change-in-flight/.test(removed.message);
      i++
    ) {
      await sleep(100);
      removed = await call(c.endpoint('n4'), 'MemberRemove', { id: 'n4' }, 8000);
    }
    assert.ok(removed.kind === 'ok', `MemberRemove of the leader n4: ${showResult(removed)}`);
    await c.terminate('n4');
    await c.waitMembers(new Map(['n1', 'n2', 'n3'].map((m) => [m, 'voter'])), ['n1', 'n2', 'n3']);
    const got = await call(c.endpoint(await c.waitForLeader(10_000)), 'Get', { key: 'before' }, 3000);
    assert.ok(got.kind === 'ok' && got.body['value'] === '1', showResult(got));
  });
});
