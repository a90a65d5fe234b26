// A member added after the log was compacted catches up from the leader's snapshot, sent from the
// snapshot file a chunk at a time and received into a spool file (issue 16), on real processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LeasekvClient } from '../client/index.ts';
import { START_HOOK_TIMEOUT_MS, startTestCluster, type TestCluster } from './test-cluster.ts';
import { sleep } from '../testkit/wait.ts';

let cluster: TestCluster | null = null;

before(
  async () => {
    cluster = await startTestCluster(3, { 'snapshot-threshold': 10 });
  },
  { timeout: START_HOOK_TIMEOUT_MS },
);

after(async () => {
  await cluster?.close();
});

test(
  'a member added after compaction installs the leader snapshot (streamed from its file) and serves the data',
  { timeout: 120_000 },
  async () => {
    assert.ok(cluster !== null, 'started');
    const client = new LeasekvClient({ endpoints: cluster.nodes.map((n) => n.clientAddr), deadlineMs: 20_000 });
    try {
      // Past the snapshot threshold (10) several times: the first entries are only in the snapshot.
      for (let i = 0; i < 40; i++) await client.put(`k/${i}`, `v${i}`);
      const res = await fetch(`${cluster.supervisor.controlUrl}/members/add`, {
        method: 'POST',
        headers: { 'x-leasekv-control': '1' },
      });
      const st = (await res.json()) as { id: string };
      assert.equal(res.status, 200, JSON.stringify(st));
      const n4 = join(cluster.dir, st.id);
      let voter = false;
      for (let i = 0; i < 300 && !voter; i++) {
        const ms = (await client.cluster('MemberList', {}).catch(() => null))?.['members'] as
          { id: string; learner?: boolean }[] | undefined;
        voter = ms?.some((m) => m.id === st.id && m.learner !== true) ?? false;
        if (!voter) await sleep(200);
      }
      assert.ok(voter, `${st.id} became a voter\n${cluster.output()}`);
      assert.ok(existsSync(join(n4, 'snapshot.snap')), 'it installed a snapshot from the leader');
      assert.deepEqual(
        readdirSync(n4).filter((f) => f.startsWith('snapshot.incoming.')),
        [],
        'no spool file left behind',
      );
      assert.equal((await client.get('k/0')).value, 'v0');
    } finally {
      await client.close();
    }
  },
);
