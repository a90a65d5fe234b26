// add-member / remove-member through the supervisor's control API on a real 3-node cluster (the
// `leasekv up` code path, issue 12): the added member becomes a voter, removed its process exits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeasekvClient } from '../client/index.ts';
import type { SupervisedNode } from './supervisor.ts';
import { START_HOOK_TIMEOUT_MS, startTestCluster, type TestCluster } from './test-cluster.ts';
import { sleep, waitFor } from '../testkit/wait.ts';

let cluster: TestCluster | null = null;

before(
  async () => {
    cluster = await startTestCluster(3);
  },
  { timeout: START_HOOK_TIMEOUT_MS },
);

after(async () => {
  await cluster?.close();
});

const post = (path: string): Promise<Response> =>
  fetch(`${cluster?.supervisor.controlUrl ?? ''}${path}`, { method: 'POST', headers: { 'x-leasekv-control': '1' } });

interface ListedMember {
  id: string;
  learner?: boolean;
}

/** Polls MemberList (bounded) until `ok` holds for the members. */
async function waitMembers(
  client: LeasekvClient,
  what: string,
  ok: (ms: ListedMember[]) => boolean,
): Promise<ListedMember[]> {
  let last: ListedMember[] = [];
  for (let i = 0; i < 150; i++) {
    const a = await client.cluster('MemberList', {}).catch(() => null);
    last = (a?.['members'] as ListedMember[] | undefined) ?? last;
    if (a !== null && ok(last)) return last;
    await sleep(200);
  }
  assert.fail(`${what}: members stayed ${JSON.stringify(last)}\n${cluster?.output() ?? ''}`);
}

/** leasekv_peer_connected{peer} of the node at `clientAddr` (plaintext test cluster). */
async function connectedTo(clientAddr: string, peer: string): Promise<number | null> {
  const text = await (await fetch(`http://${clientAddr}/metrics`)).text();
  const m = new RegExp(`^leasekv_peer_connected\\{peer="${peer}"\\} (\\d+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

test(
  'member list shows the real peer addresses, the same from every node; the links still go through the fault proxies',
  { timeout: 90_000 },
  async () => {
    assert.ok(cluster !== null, 'started');
    const real = cluster.nodes.map((n) => [n.id, n.peerAddr]).sort();
    for (const n of cluster.nodes) {
      const client = new LeasekvClient({ endpoints: [n.clientAddr], deadlineMs: 3000 });
      try {
        const a = await client.cluster('MemberList', {});
        const ms = (a['members'] ?? []) as { id: string; peerAddr: string }[];
        assert.deepEqual(ms.map((m) => [m.id, m.peerAddr]).sort(), real, `MemberList at ${n.id}`);
      } finally {
        await client.close();
      }
    }
    // The members dial each other through the supervisor's proxies (--peer-routes): isolating n1
    // cuts n2's link to it, which a direct dial of the address above would keep.
    const [, n2] = cluster.nodes as [SupervisedNode, SupervisedNode];
    await waitFor('n2 connected to n1', 30_000, async () =>
      (await connectedTo(n2.clientAddr, 'n1')) === 1 ? true : undefined,
    );
    assert.equal((await post('/nodes/n1/isolate')).status, 200);
    try {
      await waitFor('n2 cut off from isolated n1', 30_000, async () =>
        (await connectedTo(n2.clientAddr, 'n1')) === 0 ? true : undefined,
      );
    } finally {
      assert.equal((await post('/nodes/n1/heal')).status, 200);
    }
    await waitFor('n2 connected to n1 again', 30_000, async () =>
      (await connectedTo(n2.clientAddr, 'n1')) === 1 ? true : undefined,
    );
  },
);

test(
  'control API: add-member adds n4, which becomes a voter; remove-member removes it and stops its process',
  { timeout: 90_000 },
  async () => {
    assert.ok(cluster !== null, 'started');
    const client = new LeasekvClient({ endpoints: cluster.nodes.map((n) => n.clientAddr), deadlineMs: 3000 });
    try {
      const res = await post('/members/add');
      const st = (await res.json()) as { id: string; state: string; pid: number };
      assert.equal(res.status, 200, JSON.stringify(st));
      assert.deepEqual([st.id, st.state], ['n4', 'running']);
      await waitMembers(client, 'n4 a voter', (ms) => ms.some((m) => m.id === 'n4' && m.learner !== true));
      assert.equal((await post('/nodes/n4/isolate')).status, 409, 'an added member has no fault proxy');
      const rm = await post('/nodes/n4/remove-member');
      const gone = (await rm.json()) as { state: string };
      assert.equal(rm.status, 200, JSON.stringify(gone));
      assert.equal(gone.state, 'removed');
      assert.throws(() => process.kill(st.pid, 0), "n4's process has exited");
      await waitMembers(client, 'n4 removed', (ms) => !ms.some((m) => m.id === 'n4'));
      assert.ok(!cluster.supervisor.states().some((s) => s.id === 'n4'), 'the supervisor no longer lists n4');
    } finally {
      await client.close();
    }
  },
);
