// Real processes, test 5: faults through the per-link TCP proxies.
// - Isolate the leader: the majority elects a new leader and accepts a write. The old leader must
//   never answer a linearizable read with the old value after that write was acknowledged: it may
//   serve lease reads only while its lease lasts, and the new leader cannot commit anything before
//   that lease has run out (docs/lease-safety.md). This is what the lease is for.
// - Heal: the old leader follows and converges.
// - 30 ms one-way latency on every link: writes and linearizable reads still work.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster } from './harness.ts';
import { call, showResult, type CallResult } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { sleep, waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

interface Probe {
  readonly sentMs: number;
  readonly result: CallResult;
}

test('isolated leader serves no stale linearizable read; majority elects; heal converges; 30 ms latency works', async (t) => {
  await withCluster(t, { name: 'partition', proxies: true }, async (c) => {
    const old = await c.writeViaLeader('x', 'old');

    // Probers read x linearizably from the old leader throughout the partition.
    const probes: Probe[] = [];
    let probing = true;
    const probers = Array.from({ length: 3 }, async () => {
      while (probing) {
        const sentMs = performance.now();
        probes.push({ sentMs, result: await call(c.endpoint(old), 'Get', { key: 'x' }, 5000) });
        await sleep(5);
      }
    });

    c.isolate(old);
    const isolatedAt = performance.now();
    const majority = c.ids.filter((id) => id !== old);
    const client = new LeaderClient(new Map(majority.map((id) => [id, c.endpoint(id)])), 2000);
    const w = lastResult(
      await client.untilOk('Put', { key: 'x', value: 'new', clientId: 'partition-test', seq: 1 }, 20_000),
    );
    const ackedAt = performance.now();
    assert.equal(w.kind, 'ok', `the majority side accepts a write: ${showResult(w)}`);
    await sleep(1500); // keep probing the old leader for a while after the new write
    probing = false;
    await Promise.all(probers);

    const stale = probes.filter((p) => p.sentMs > ackedAt && p.result.kind === 'ok');
    assert.deepEqual(
      stale.map(
        (p) =>
          `sent ${Math.round(p.sentMs - ackedAt)} ms after the new write was acknowledged: ${showResult(p.result)}`,
      ),
      [],
      'the old leader must not serve a linearizable read after the new leader accepted a write',
    );
    const served = probes.filter((p) => p.result.kind === 'ok');
    const lastServed =
      served.length === 0 ? '-' : `${Math.round(Math.max(...served.map((p) => p.sentMs)) - isolatedAt)} ms`;
    t.diagnostic(
      `old leader ${old}: ${probes.length} reads during the partition, ${served.length} served (last sent ${lastServed} after isolation); new write acknowledged ${Math.round(ackedAt - isolatedAt)} ms after isolation`,
    );

    const fresh = await c.waitForLeader(120_000, majority);
    assert.notEqual(fresh, old);
    await waitFor(`${old} to step down while isolated`, 10_000, async () => {
      const st = await c.status(old);
      return 'role' in st && st.role !== 'LEADER' ? true : undefined;
    });

    c.heal();
    await waitFor(`${old} to converge after healing`, 30_000, async () => {
      const r = await call(c.endpoint(old), 'Get', { key: 'x', consistency: 'STALE' }, 1000);
      return r.kind === 'ok' && r.body['value'] === 'new' ? true : undefined;
    });
    const leader = await c.waitForLeader();

    c.setDelayMs(30);
    const slow = new LeaderClient(new Map(c.ids.map((id) => [id, c.endpoint(id)])), 5000);
    slow.use(leader);
    const t0 = performance.now();
    const ROUNDS = 15;
    for (let i = 0; i < ROUNDS; i++) {
      const p = lastResult(
        await slow.untilOk('Put', { key: 'slow', value: `v${i}`, clientId: 'latency-test', seq: i + 1 }, 15_000),
      );
      assert.equal(p.kind, 'ok', `write with 30 ms latency: ${showResult(p)}`);
      const g = lastResult(await slow.untilOk('Get', { key: 'slow' }, 15_000));
      assert.ok(
        g.kind === 'ok' && g.body['value'] === `v${i}`,
        `linearizable read with 30 ms latency: ${showResult(g)}`,
      );
    }
    t.diagnostic(`with 30 ms one-way latency: ${ROUNDS} write+read pairs in ${Math.round(performance.now() - t0)} ms`);
    c.setDelayMs(0);
  });
});
