// Real processes: a node with data cannot be started into another configuration, and a member
// whose data dir was wiped cannot rejoin under its old id (issue 12, "Why this comes first").
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { sleep } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

/** A node started here must load through tsx before it can refuse (or be refused): 5-30 s on a loaded machine. */
const START_EXIT_MS = 120_000;

/** How long the empty n4, n5 are watched for a leader (several election timeouts). */
const WATCH_MS = 3000;

test('the lost-write scenario: n1 restarted with a 5-member --peers beside empty n4, n5 refuses to start; v2 survives', async (t) => {
  await withCluster(t, { name: 'identity-lost-write', spare: 2 }, async (c) => {
    await c.writeViaLeader('k', 'v1');
    await c.kill('n1');
    // k=v2 is acknowledged by n2 and n3 while n1 is down: n1's log does not have it.
    await c.writeViaLeader('k', 'v2');
    await c.kill('n2');
    await c.kill('n3');

    const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
    c.startNode('n1', { peers: five, expectExit: true });
    c.startNode('n4', { peers: five, expectExit: true });
    c.startNode('n5', { peers: five, expectExit: true });
    const n1 = await c.waitExit('n1', START_EXIT_MS);
    assert.ok(n1 !== null, 'n1 must refuse to start, not run');
    assert.equal(n1.code, 2, n1.log);
    assert.match(n1.log, /refusing to start: .*member n1 of cluster [0-9a-f]{32} with members n1, n2, n3/);
    assert.match(
      n1.log,
      /--peers adds n4, n5, which are not members; to add a member run `leasekv member add n4 --peer-addr 127\.0\.0\.1:\d+ --client-addr 127\.0\.0\.1:\d+/,
    );

    // The empty n4 and n5 form a different cluster (another member list, so another cluster id)
    // with 2 of its 5 members: no leader, so nothing can be read from them at all.
    const until = performance.now() + WATCH_MS;
    while (performance.now() < until) {
      for (const id of ['n4', 'n5']) {
        if (!c.alive(id)) continue;
        const st = await c.status(id);
        assert.ok(!('role' in st) || st.role !== 'LEADER', `${id} must not lead: ${JSON.stringify(st)}`);
      }
      await sleep(200);
    }
    const read = await call(c.endpoint('n4'), 'Get', { key: 'k' }, 3000);
    assert.ok(read.kind !== 'ok', `n4 must not answer a linearizable read: ${showResult(read)}`);

    // The old members come back with the members recorded in their data dirs (no --peers): n2 and
    // n3 refuse n4 and n5 (another cluster id), which were never accepted by anyone and stop.
    c.startNode('n2');
    c.startNode('n3');
    for (const id of ['n4', 'n5']) {
      const exit = await c.waitExit(id, START_EXIT_MS);
      assert.ok(exit !== null, `${id} must stop once the real members refuse it`);
      assert.match(exit.log, /refusing to run: node n[23] refused this member: cluster id mismatch/);
    }
    c.startNode('n1');
    const leader = await c.waitForLeader(120_000, ['n1', 'n2', 'n3']);
    const got = await call(c.endpoint(leader), 'Get', { key: 'k' }, 3000);
    assert.ok(got.kind === 'ok' && got.body['value'] === 'v2', `the acknowledged v2 must survive: ${showResult(got)}`);
  });
});

test('a member whose data dir was wiped is refused by its peers and stops; the cluster keeps serving', async (t) => {
  await withCluster(t, { name: 'identity-wipe' }, async (c) => {
    const leader = await c.writeViaLeader('a', '1');
    const victim = c.ids.find((id) => id !== leader) as string;
    await c.kill(victim);
    c.wipe(victim);
    // The old, documented recovery ("wipe and rejoin under the same id") must now be refused.
    c.startNode(victim, { peers: [...c.ids], expectExit: true });
    const exit = await c.waitExit(victim, START_EXIT_MS);
    assert.ok(exit !== null, `${victim} with a wiped data dir must not run`);
    assert.equal(exit.code, 2, exit.log);
    assert.match(
      exit.log,
      new RegExp(
        `member ${victim} of cluster [0-9a-f]{32} has incarnation [0-9a-f]+, but this node ${victim} has incarnation [0-9a-f]+`,
      ),
    );
    assert.match(exit.log, /leasekv member remove/);
    await c.writeViaLeader('a', '2');
  });
});
