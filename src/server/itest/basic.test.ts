// Real processes, test 1: elect; write through the leader; linearizable read on the leader; stale
// reads on every node converge; a follower answers not-leader with the leader hint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from './http.ts';
import { waitFor } from './proc.ts';

holdClusterLock({ before, after });

test('3 real nodes: elect, write via the leader, read everywhere, followers hint the leader', async (t) => {
  await withCluster(t, { name: 'basic' }, async (c) => {
    const leader = await c.waitForLeader(); // generous: tsx start-up on a loaded machine takes seconds
    const ep = c.endpoint(leader);

    const put = await call(ep, 'Put', { key: 'greeting', value: 'hello' }, 3000);
    assert.equal(put.kind, 'ok', showResult(put));
    const index = Number(put.body['index']);
    assert.ok(index > 0, `a committed write has a log index: ${showResult(put)}`);

    const get = await call(ep, 'Get', { key: 'greeting' }, 3000); // LINEARIZABLE is the default
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

    const leaderAddr = `127.0.0.1:${(ep as { port: number }).port}`;
    for (const id of c.ids.filter((x) => x !== leader)) {
      for (const [method, body] of [['Put', { key: 'k', value: 'v' }], ['Get', { key: 'greeting' }], ['CompareAndSwap', { key: 'k', value: 'v' }]] as const) {
        const r = await call(c.endpoint(id), method, body, 3000);
        assert.ok(r.kind === 'error', `${method} on follower ${id} must fail: ${showResult(r)}`);
        assert.equal(r.code, 'failed_precondition', showResult(r));
        assert.equal(r.leader, leader, `${id} names the leader: ${showResult(r)}`);
        assert.equal(r.leaderAddr, leaderAddr, showResult(r));
      }
    }
    // The follower's refusals did not write anything.
    const k = await call(ep, 'Get', { key: 'k' }, 3000);
    assert.ok(k.kind === 'ok' && k.body['found'] !== true, showResult(k));
  });
});
