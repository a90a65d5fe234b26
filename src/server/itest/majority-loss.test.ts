// Real processes, test 3: kill a majority (both followers). The lone leader may serve lease reads
// only while the lease it already holds lasts; after that it cannot serve any linearizable read
// (no majority for ReadIndex either), it steps down (CheckQuorum), and every request ends in an
// error well within the client's deadline — no hang. Stale reads keep working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FAST_TIMING, holdClusterLock, withCluster } from './harness.ts';
import { call, showResult, type CallResult } from '../../testkit/http.ts';
import { sleep, waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

/** Client deadline per request: above the server's own request timeout, so the server answers first. */
const CLIENT_TIMEOUT_MS = FAST_TIMING.requestTimeoutMs + 3000;
/** How long the lone leader is probed after the kill. */
const PROBE_MS = 3000;

interface Probe {
  readonly sentMs: number;
  readonly result: CallResult;
}

test('kill 2 of 3: the leader stops lease reads when its lease ends, steps down, requests fail cleanly', async (t) => {
  await withCluster(t, { name: 'majority' }, async (c) => {
    const leader = await c.writeViaLeader('x', 'v1');
    const ep = c.endpoint(leader);

    await Promise.all(c.ids.filter((id) => id !== leader).map((id) => c.kill(id)));
    // Both followers are dead now, so no acknowledgement can come after this instant: the leader's
    // lease (measured from a heartbeat round sent earlier) ends by killedAt + leaseMs at the latest.
    const killedAt = performance.now();
    const leaseEndsBy = killedAt + FAST_TIMING.leaseMs;

    // Four concurrent probers hammer the leader with linearizable reads for PROBE_MS.
    const probes: Probe[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < killedAt + PROBE_MS) {
          const sentMs = performance.now();
          probes.push({ sentMs, result: await call(ep, 'Get', { key: 'x' }, CLIENT_TIMEOUT_MS) });
          await sleep(10);
        }
      }),
    );
    const served = probes.filter((p) => p.result.kind === 'ok');
    const late = served.filter((p) => p.sentMs > leaseEndsBy);
    assert.deepEqual(
      late.map((p) => `${Math.round(p.sentMs - killedAt)} ms: ${showResult(p.result)}`),
      [],
      'no linearizable read may be served once the lease has ended',
    );
    for (const p of probes) {
      assert.notEqual(
        p.result.kind,
        'network',
        `a read must end in an answer, not hang or drop: ${showResult(p.result)}`,
      );
      assert.ok(p.result.ms < CLIENT_TIMEOUT_MS, showResult(p.result));
    }
    const lastServedMs = served.length === 0 ? null : Math.round(Math.max(...served.map((p) => p.sentMs)) - killedAt);
    t.diagnostic(
      `${probes.length} reads after the kill; ${served.length} served (last sent ${lastServedMs ?? '-'} ms after the kill, lease ${FAST_TIMING.leaseMs} ms)`,
    );

    const down = await waitFor(`${leader} to step down`, 10_000, async () => {
      const st = await c.status(leader);
      return 'role' in st && st.role !== 'LEADER' && !st.leaseHeld ? st : undefined;
    });
    t.diagnostic(
      `${leader} stepped down: ${down.role} in term ${down.term}, ${Math.round(performance.now() - killedAt)} ms after the kill at the latest`,
    );

    for (const [method, body] of [
      ['Put', { key: 'x', value: 'v2' }],
      ['Get', { key: 'x' }],
      ['CompareAndSwap', { key: 'x', expected: 'v1', value: 'v3' }],
      ['Delete', { key: 'x' }],
    ] as const) {
      const r = await call(ep, method, body, CLIENT_TIMEOUT_MS);
      assert.ok(r.kind === 'error', `${method} without a majority must fail cleanly: ${showResult(r)}`);
      assert.ok(['failed_precondition', 'unavailable'].includes(r.code), showResult(r));
    }
    const stale = await call(ep, 'Get', { key: 'x', consistency: 'STALE' }, 3000);
    assert.ok(
      stale.kind === 'ok' && stale.body['value'] === 'v1',
      `a stale read still answers from local state: ${showResult(stale)}`,
    );
  });
});
