// Real processes, test 8: nodes as separate hosts. Each node runs in its own network namespace
// with its own address (10.77.0.11-13) on a private bridge; the test reaches the client APIs
// through a forwarder in a fourth namespace. Checks election, replication, and failover when the
// leader's host is cut off (`ip link set eth0 down`), then convergence when it is reconnected, then
// a new member on a host of its own (10.77.0.14) added with MemberAdd and started with --join.
// Skips, saying why, where namespaces cannot be created (not root, no `ip`, no permission).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { holdClusterLock, waitForOneLeader } from './harness.ts';
import { memberList, serveArgs, type ServeSpec } from '../serve-args.ts';
import { timingSettings } from '../../testkit/cluster.ts';
import { call, showResult, type Endpoint } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { NetnsLab, netnsUnavailable } from './netns.ts';
import { LEASEKV_BIN, NodeProcess, tailFile } from '../../testkit/proc.ts';
import { waitFor } from '../../testkit/wait.ts';
import { socketPathFor } from './uds-forward.ts';

holdClusterLock({ before, after });

const IDS = ['n1', 'n2', 'n3'] as const;
const PEER_PORT = 7000;
const CLIENT_PORT = 7100;
const FORWARDER = new URL('./uds-forward.ts', import.meta.url).pathname;

test('nodes in separate network namespaces: elect, replicate, fail over when the leader host is cut off, a new member joins from its own host', async (t) => {
  const why = netnsUnavailable();
  if (why !== undefined) {
    t.skip(`skipped: ${why}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-itest-netns-'));
  const lab = new NetnsLab([...IDS, 'n4', 'client']);
  const procs = new Map<string, NodeProcess>();
  let failed = true;
  try {
    lab.build();
    const addr = (id: string): string => lab.host(id).addr;
    const peers = memberList(IDS.map((id) => [id, `${addr(id)}:${PEER_PORT}`]));
    const clients = memberList(IDS.map((id) => [id, `${addr(id)}:${CLIENT_PORT}`]));
    const serve = (id: string, members: Pick<ServeSpec, 'peers' | 'clientAddrs' | 'join'>): void => {
      const argv = [
        process.execPath,
        LEASEKV_BIN,
        ...serveArgs({
          insecure: true,
          id,
          dataDir: join(dir, id),
          listenPeer: `${addr(id)}:${PEER_PORT}`,
          listenClient: `${addr(id)}:${CLIENT_PORT}`,
          ...members,
          settings: { 'cluster-token': 'itest-netns', ...timingSettings() },
        }),
      ];
      procs.set(id, NodeProcess.spawn({ ...lab.execIn(id, argv), logPath: join(dir, `${id}.log`) }));
    };
    for (const id of IDS) serve(id, { peers, clientAddrs: clients });
    const fwdArgs = [
      process.execPath,
      '--import',
      'tsx',
      FORWARDER,
      dir,
      ...[...IDS, 'n4'].map((id) => `${id}=${addr(id)}:${CLIENT_PORT}`),
    ];
    procs.set(
      'forwarder',
      NodeProcess.spawn({ ...lab.execIn('client', fwdArgs), logPath: join(dir, 'forwarder.log') }),
    );
    const eps = new Map<string, Endpoint>(IDS.map((id) => [id, { socketPath: socketPathFor(dir, id) }]));
    const crashed = (): string | undefined => {
      for (const [id, p] of procs)
        if (!p.alive) return `${id} exited: ${JSON.stringify(p.exit)}\n${tailFile(p.logPath, 15)}`;
      return undefined;
    };

    const leader = await waitForOneLeader(eps, 60_000, crashed);
    const st = await call(eps.get(leader) as Endpoint, 'Status', {}, 2000);
    assert.equal(st.kind, 'ok', showResult(st));
    const members = st.body['members'] as { id: string; peerAddr: string }[];
    assert.deepEqual(
      members.map((m) => m.peerAddr).sort(),
      IDS.map((id) => `${addr(id)}:${PEER_PORT}`),
      'members are on their own hosts',
    );

    const w1 = await call(eps.get(leader) as Endpoint, 'Put', { key: 'x', value: 'one' }, 3000);
    assert.equal(w1.kind, 'ok', showResult(w1));
    for (const id of IDS) {
      await waitFor(
        `x=one replicated to ${id}`,
        10_000,
        async () => {
          const r = await call(eps.get(id) as Endpoint, 'Get', { key: 'x', consistency: 'STALE' }, 1000);
          return r.kind === 'ok' && r.body['value'] === 'one' ? true : undefined;
        },
        { intervalMs: 50, hopeless: crashed },
      );
    }

    lab.setLink(leader, false);
    const cutAt = performance.now();
    const rest = IDS.filter((id) => id !== leader);
    const fresh = await waitForOneLeader(new Map(rest.map((id) => [id, eps.get(id) as Endpoint])), 30_000, crashed);
    const client = new LeaderClient(new Map(rest.map((id) => [id, eps.get(id) as Endpoint])), 2000);
    client.use(fresh);
    const w2 = lastResult(
      await client.untilOk('Put', { key: 'x', value: 'two', clientId: 'netns-test', seq: 1 }, 15_000),
    );
    assert.equal(w2.kind, 'ok', `write after the leader's host was cut off: ${showResult(w2)}`);
    const r2 = lastResult(await client.untilOk('Get', { key: 'x' }, 15_000));
    assert.ok(r2.kind === 'ok' && r2.body['value'] === 'two', showResult(r2));
    t.diagnostic(
      `${leader}'s link down: ${fresh} led and served a write and a linearizable read ${Math.round(performance.now() - cutAt)} ms later`,
    );

    lab.setLink(leader, true);
    await waitFor(
      `${leader} to converge after its link is back`,
      30_000,
      async () => {
        const r = await call(eps.get(leader) as Endpoint, 'Get', { key: 'x', consistency: 'STALE' }, 1000);
        return r.kind === 'ok' && r.body['value'] === 'two' ? true : undefined;
      },
      { intervalMs: 100, hopeless: crashed },
    );
    await waitForOneLeader(eps, 30_000, crashed);

    // A new member on a host of its own: added through the Cluster API (retried while the leader
    // refuses for a passing reason, e.g. its lease not yet re-confirmed), then started with --join.
    await waitFor(
      'MemberAdd n4',
      30_000,
      async () => {
        const lead = await waitForOneLeader(eps, 10_000, crashed);
        const r = await call(
          eps.get(lead) as Endpoint,
          'MemberAdd',
          { id: 'n4', peerAddr: `${addr('n4')}:${PEER_PORT}`, clientAddr: `${addr('n4')}:${CLIENT_PORT}` },
          10_000,
        );
        if (r.kind === 'ok') return true;
        if (
          r.kind === 'error' &&
          r.code === 'failed_precondition' &&
          !/change-in-flight|lease-not-confirmed|not leader/.test(r.message)
        )
          throw new Error(showResult(r));
        return undefined;
      },
      { intervalMs: 200, hopeless: crashed },
    );
    serve('n4', { join: IDS.map((id) => `${addr(id)}:${CLIENT_PORT}`) });
    const n4: Endpoint = { socketPath: socketPathFor(dir, 'n4') };
    await waitFor(
      'n4 to be a voter holding x=two',
      30_000,
      async () => {
        const l = await call(n4, 'MemberList', {}, 1000);
        const r = await call(n4, 'Get', { key: 'x', consistency: 'STALE' }, 1000);
        const voter =
          l.kind === 'ok' &&
          (l.body['members'] as { id: string; peerAddr: string; learner?: boolean }[]).some(
            (m) => m.id === 'n4' && m.learner !== true && m.peerAddr === `${addr('n4')}:${PEER_PORT}`,
          );
        return voter && r.kind === 'ok' && r.body['value'] === 'two' ? true : undefined;
      },
      { intervalMs: 100, hopeless: crashed },
    );
    t.diagnostic(`n4 joined from its own host ${addr('n4')} and became a voter`);
    failed = false;
  } catch (e) {
    for (const [id, p] of procs) console.error(`--- ${id} ${p.logPath}\n${tailFile(p.logPath, 20)}`);
    throw e;
  } finally {
    await Promise.allSettled([...procs.values()].map((p) => p.kill()));
    lab.destroy();
    assert.deepEqual(lab.leftovers(), [], 'every namespace is deleted');
    if (!failed) rmSync(dir, { recursive: true, force: true });
  }
});
