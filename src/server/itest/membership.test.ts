// Real processes: membership changes (issue 12, "Real processes") under a continuous workload whose
// history the linearizability checker must accept — replace a member whose host died, grow 3→5,
// transfer leadership, remove the leader, shrink 5→3.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { checkHistorySync } from '../../check/checker.ts';
import { formatHistoryJsonl, type HistoryOp } from '../../check/history.ts';
import { holdClusterLock, withCluster, type Cluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { runWorkload } from './workload.ts';
import { spawnSync } from 'node:child_process';
import { LEASEKV_BIN } from '../../testkit/proc.ts';
import { decodeBackup } from '../../storage/backup_file.ts';
import { BACKUP_PATH } from '../backup-route.ts';

holdClusterLock({ before, after });

const CHECK_BUDGET_MS = 60_000;

const roles = (pairs: readonly (readonly [string, string])[]): Map<string, string> => new Map(pairs);

/** Runs the workload on every member (current and spare) while `faults` runs; checks the history. */
async function underLoad(
  t: TestContext,
  c: Cluster,
  ids: readonly string[],
  durationMs: number,
  faults: () => Promise<void>,
): Promise<void> {
  const endpoints = new Map(ids.map((id) => [id, c.endpoint(id)]));
  const load = runWorkload({
    endpoints,
    clients: 4,
    keys: ['a', 'b', 'c'],
    durationMs,
    maxOpsPerClient: 400,
    callTimeoutMs: 3000,
    thinkMs: 10,
    seed: 12,
  });
  let history: HistoryOp[];
  try {
    await faults();
  } finally {
    history = await load;
  }
  const file = join(c.dir, 'history.jsonl');
  writeFileSync(file, formatHistoryJsonl(history));
  const ok = history.filter((o) => o.outcome === 'ok');
  t.diagnostic(`${history.length} ops, ${ok.length} ok, ${ok.filter((o) => o.op === 'get').length} ok reads (${file})`);
  assert.ok(ok.filter((o) => o.op === 'get').length >= 10, 'too few successful reads to mean anything');
  const verdict = checkHistorySync(history, { timeoutMs: CHECK_BUDGET_MS });
  assert.equal(
    verdict.verdict,
    'linearizable',
    JSON.stringify(verdict.violation ?? verdict.undecided, null, 1).slice(0, 4000),
  );
}

test('replace a member whose host died (kill -9, data dir gone) by a new member on a new address, under load', async (t) => {
  await withCluster(t, { name: 'member-replace', spare: 1 }, async (c) => {
    const leader = await c.writeViaLeader('before', '1');
    const dead = c.ids.find((id) => id !== leader) as string;
    await underLoad(t, c, ['n1', 'n2', 'n3', 'n4'], 20_000, async () => {
      await c.kill(dead);
      c.wipe(dead);
      await c.change('MemberRemove', { id: dead });
      await c.change('MemberAdd', { id: 'n4', peerAddr: c.peerAddr('n4'), clientAddr: c.clientAddr('n4') });
      c.startNode('n4', { join: c.ids.filter((id) => id !== dead) });
      const alive = ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== dead);
      await c.waitMembers(roles(alive.map((id) => [id, 'voter'])), alive);
      // The old id can never come back, even with a fresh data dir and --join.
      c.startNode(dead, { join: alive, expectExit: true });
      const exit = await c.waitExit(dead, 120_000);
      assert.ok(
        exit !== null && exit.code === 2,
        `the removed ${dead} must refuse to start: ${exit?.log ?? 'still running'}`,
      );
      assert.match(exit.log, new RegExp(`${dead} was removed from cluster [0-9a-f]{32}`));
    });
    const got = await call(c.endpoint(await c.waitForLeader(10_000)), 'Get', { key: 'before' }, 3000);
    assert.ok(got.kind === 'ok' && got.body['value'] === '1', showResult(got));
    // The CLI sees the same members.
    const listed = spawnSync(
      process.execPath,
      [LEASEKV_BIN, 'member', 'list', '-w', 'json', '--endpoints', c.clientAddr('n4')],
      { encoding: 'utf8', timeout: 120_000 /* only a hang: tsx start-up under load */ },
    );
    assert.equal(listed.status, 0, listed.stderr);
    const members = JSON.parse(listed.stdout) as { members: { id: string; learner?: boolean }[]; removed: string[] };
    assert.deepEqual(
      members.members.map((m) => `${m.id}:${m.learner === true ? 'learner' : 'voter'}`).sort(),
      ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== dead).map((id) => `${id}:voter`),
    );
    assert.deepEqual(members.removed, [dead]);
  });
});

/**
 * Leader hints, Status and backups give the addresses of members added by `member add` — in no
 * member's --peers or --client-addrs — as the cluster recorded them (they were empty before).
 */
async function addressesAsTheClusterKnows(c: Cluster, leader: string, members: readonly string[]): Promise<void> {
  const follower = 'n1';
  const hinted = await call(c.endpoint(follower), 'Put', { key: 'hint', value: 'x' }, 3000);
  assert.ok(
    hinted.kind === 'error' && hinted.leader === leader && hinted.leaderAddr === c.clientAddr(leader),
    `${follower} names ${leader} at ${c.clientAddr(leader)}: ${showResult(hinted)}`,
  );
  const st = await call(c.endpoint(follower), 'Status', {}, 3000);
  assert.ok(st.kind === 'ok' && st.body['leaderClientAddr'] === c.clientAddr(leader), showResult(st));
  const res = await fetch(`http://${c.clientAddr(leader)}${BACKUP_PATH}`);
  assert.equal(res.status, 200);
  const { header } = decodeBackup(new Uint8Array(await res.arrayBuffer()));
  assert.deepEqual(
    header.members.map((m) => `${m.id}=${m.peerAddr},${m.clientAddr}`).sort(),
    members.map((id) => `${id}=${c.peerAddr(id)},${c.clientAddr(id)}`),
  );
}

test('grow 3→5, transfer leadership, remove the leader, shrink to 3, under load', async (t) => {
  await withCluster(t, { name: 'member-grow', spare: 2 }, async (c) => {
    await c.writeViaLeader('before', '1');
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    await underLoad(t, c, all, 30_000, async () => {
      // n4 as a voter (promoted by the leader once caught up); n5 as a learner, promoted by hand.
      await c.change('MemberAdd', { id: 'n4', peerAddr: c.peerAddr('n4'), clientAddr: c.clientAddr('n4') });
      c.startNode('n4', { join: ['n1', 'n2', 'n3'] });
      await c.waitMembers(roles(['n1', 'n2', 'n3', 'n4'].map((m) => [m, 'voter'])), c.liveIds());
      await c.change('MemberAdd', {
        id: 'n5',
        peerAddr: c.peerAddr('n5'),
        clientAddr: c.clientAddr('n5'),
        learner: true,
      });
      c.startNode('n5', { join: ['n1', 'n2', 'n3'] });
      await c.waitMembers(
        roles([...['n1', 'n2', 'n3', 'n4'].map((m) => [m, 'voter'] as const), ['n5', 'learner']]),
        c.liveIds(),
      );
      const st = await call(c.endpoint('n5'), 'Status', {}, 3000);
      assert.ok(
        st.kind === 'ok' &&
          (st.body['members'] as { id: string; learner?: boolean }[]).some((m) => m.id === 'n5' && m.learner === true),
        `Status shows n5 as a learner: ${showResult(st)}`,
      );
      await c.change('MemberPromote', { id: 'n5' });
      await c.waitMembers(roles(all.map((m) => [m, 'voter'])), c.liveIds());
      const moved = await c.change('TransferLeadership', { target: 'n4' });
      assert.equal(moved['leader'], 'n4');
      await addressesAsTheClusterKnows(c, 'n4', all);
      // Remove the leader: it hands over and leaves.
      await c.change('MemberRemove', { id: 'n4' });
      await c.terminate('n4');
      await c.change('MemberRemove', { id: 'n5' });
      await c.terminate('n5');
      await c.waitMembers(
        roles([
          ['n1', 'voter'],
          ['n2', 'voter'],
          ['n3', 'voter'],
        ]),
        ['n1', 'n2', 'n3'],
      );
    });
    const got = await call(c.endpoint(await c.waitForLeader(10_000)), 'Get', { key: 'before' }, 3000);
    assert.ok(got.kind === 'ok' && got.body['value'] === '1', showResult(got));
  });
});
