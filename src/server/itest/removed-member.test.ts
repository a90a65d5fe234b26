// Real processes: a member removed while it was down, or cut off, never receives the entry that
// removes it. It learns it from its peers' refusals (transport/removal-notice.ts) and exits with
// EXIT_MEMBER_REMOVED, saying so (docs/design.md, "A removed member stops"). Before, it ran for ever,
// pre-voting, unhealthy and refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster, type Cluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { EXIT_MEMBER_REMOVED } from '../removal.ts';

holdClusterLock({ before, after });

async function assertExitsRemoved(c: Cluster, id: string): Promise<void> {
  const exit = await c.waitExit(id, 120_000);
  assert.ok(exit !== null, `${id} must exit once it learns it was removed; it still runs:\n${c.diagnostics()}`);
  assert.equal(exit.code, EXIT_MEMBER_REMOVED, exit.log);
  assert.match(exit.log, new RegExp(`this member \\(${id}\\) has been permanently removed from cluster [0-9a-f]{32}`));
  assert.match(exit.log, /its id can never rejoin/);
}

async function survivorsServe(c: Cluster, alive: readonly string[]): Promise<void> {
  const leader = await c.waitForLeader(120_000, alive);
  const got = await call(c.endpoint(leader), 'Get', { key: 'before' }, 3000);
  assert.ok(got.kind === 'ok' && got.body['value'] === '1', showResult(got));
}

test('a member removed while it was down exits with its own code when it restarts (its peers tell it)', async (t) => {
  await withCluster(t, { name: 'removed-down' }, async (c) => {
    const leader = await c.writeViaLeader('before', '1');
    const gone = c.ids.find((id) => id !== leader) as string;
    await c.terminate(gone);
    await c.change('MemberRemove', { id: gone });
    c.startNode(gone, { expectExit: true });
    await assertExitsRemoved(c, gone);
    await survivorsServe(
      c,
      c.ids.filter((id) => id !== gone),
    );
  });
});

test('a member removed while cut off exits once it can reach its peers again', async (t) => {
  await withCluster(t, { name: 'removed-cut-off', proxies: true }, async (c) => {
    const leader = await c.writeViaLeader('before', '1');
    const gone = c.ids.find((id) => id !== leader) as string;
    c.isolate(gone);
    await c.change('MemberRemove', { id: gone });
    c.heal();
    await assertExitsRemoved(c, gone);
    await survivorsServe(
      c,
      c.ids.filter((id) => id !== gone),
    );
  });
});
