// Real processes: removing the leader answers the caller. The removed leader must learn that its
// removal committed (the others keep the link to it for a while after they append the change), so
// it answers MemberRemove and hands over, as docs/api.md ("Cluster") says; then it exits by itself
// with EXIT_MEMBER_REMOVED (docs/design.md, "A removed member stops").
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { sleep } from '../../testkit/wait.ts';
import { EXIT_MEMBER_REMOVED } from '../removal.ts';

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
    c.expectRemoved('n4');
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
    // Having handed over, it stops by itself (removal.ts) with its own exit code, saying why.
    const exit = await c.waitExit('n4', 120_000);
    assert.ok(exit !== null, 'the removed leader n4 must exit by itself');
    assert.equal(exit.code, EXIT_MEMBER_REMOVED, exit.log);
    assert.match(
      exit.log,
      /this member \(n4\) has been permanently removed from cluster [0-9a-f]{32} \(by the configuration committed at index \d+ in its own log\)/,
    );
    await c.waitMembers(new Map(['n1', 'n2', 'n3'].map((m) => [m, 'voter'])), ['n1', 'n2', 'n3']);
    const got = await call(c.endpoint(await c.waitForLeader(10_000)), 'Get', { key: 'before' }, 3000);
    assert.ok(got.kind === 'ok' && got.body['value'] === '1', showResult(got));
  });
});
