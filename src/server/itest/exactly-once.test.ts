// Real processes, test 7: exactly-once writes (Raft thesis §6.3). One client increments a counter
// with CompareAndSwap(expected n, value n+1) under a session (client_id + seq; a retry resends the
// SAME seq). The leader is killed with kill -9 while an increment is in flight, and later another
// leader is frozen with SIGSTOP so that requests time out. Every increment must answer
// swapped=true exactly once — a retry of an increment that had in fact been applied gets the
// original answer, not a failed comparison — and the final value is the number of increments.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster, type Cluster } from './harness.ts';
import { call, showResult } from '../../testkit/http.ts';
import { LeaderClient, lastResult, type Attempt } from './leader-client.ts';
import { sleep } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

const INCREMENTS = 40;
const CLIENT_ID = 'counter-client';

/** Fires `fault` shortly after the request has left, so the fault hits it in flight. */
async function withFaultInFlight(run: () => Promise<Attempt[]>, fault: () => Promise<void>): Promise<Attempt[]> {
  const attempts = run();
  await sleep(2);
  await fault();
  return attempts;
}

async function currentLeader(c: Cluster): Promise<string> {
  return c.waitForLeader(120_000, c.liveIds());
}

test('session CAS increments across kill -9 and SIGSTOP of leaders: each applied exactly once', async (t) => {
  await withCluster(t, { name: 'exactly-once' }, async (c) => {
    const client = new LeaderClient(new Map(c.ids.map((id) => [id, c.endpoint(id)])), 1500);
    client.use(await c.waitForLeader());

    // Deterministic part: a resent (client_id, seq) is answered from the session, not re-applied.
    const body1 = { key: 'ctr', value: '1', clientId: CLIENT_ID, seq: 1 }; // no `expected`: key must be absent
    const first = lastResult(await client.untilOk('CompareAndSwap', body1, 10_000));
    assert.ok(first.kind === 'ok' && first.body['swapped'] === true, showResult(first));
    const again = lastResult(await client.untilOk('CompareAndSwap', body1, 10_000));
    assert.ok(
      again.kind === 'ok' && again.body['swapped'] === true,
      `a resent seq gets the original answer: ${showResult(again)}`,
    );
    // (Its `index` is the duplicate entry's, not the original's: the resend is itself logged.)
    const still = lastResult(await client.untilOk('Get', { key: 'ctr' }, 10_000));
    assert.ok(still.kind === 'ok' && still.body['value'] === '1', `applied once: ${showResult(still)}`);
    // Control: the same CAS without a session is a new command, and its comparison now fails.
    const bare = lastResult(await client.untilOk('CompareAndSwap', { key: 'ctr', value: '1' }, 10_000));
    assert.ok(bare.kind === 'ok' && bare.body['swapped'] !== true && bare.body['current'] === '1', showResult(bare));

    let retried = 0;
    let unknownOutcomes = 0;
    let killed: string | null = null;
    for (let n = 1; n < INCREMENTS; n++) {
      const body = { key: 'ctr', expected: String(n), value: String(n + 1), clientId: CLIENT_ID, seq: n + 1 };
      const run = (): Promise<Attempt[]> => client.untilOk('CompareAndSwap', body, 30_000);
      let attempts: Attempt[];
      if (n === 10) {
        killed = await currentLeader(c);
        attempts = await withFaultInFlight(run, () => c.kill(killed as string));
      } else if (n === 20 && killed !== null) {
        c.startNode(killed);
        attempts = await run();
      } else if (n === 28) {
        const frozen = await currentLeader(c);
        attempts = await withFaultInFlight(run, async () => {
          c.pause(frozen);
          setTimeout(() => c.resume(frozen), 2500);
        });
        await sleep(2600); // the frozen node is running again before the next increment
      } else {
        attempts = await run();
      }
      const r = lastResult(attempts);
      assert.ok(
        r.kind === 'ok',
        `increment ${n}→${n + 1}: ${attempts.map((a) => `${a.node}: ${showResult(a.result)}`).join('; ')}`,
      );
      assert.equal(
        r.body['swapped'],
        true,
        `increment ${n}→${n + 1} applied once and answered swapped=true: ${showResult(r)}`,
      );
      if (attempts.length > 1) retried++;
      unknownOutcomes += attempts.filter(
        (a) => a.result.kind === 'network' || (a.result.kind === 'error' && a.result.outcomeUnknown),
      ).length;
    }
    const final = lastResult(await client.untilOk('Get', { key: 'ctr' }, 10_000));
    assert.ok(final.kind === 'ok' && final.body['value'] === String(INCREMENTS), `final counter: ${showResult(final)}`);
    t.diagnostic(
      `${INCREMENTS} increments, ${retried} needed retries, ${unknownOutcomes} attempts with an unknown outcome (timeout, lost connection, outcome-unknown)`,
    );
    // A stale seq (older than the session's last) is refused, not applied.
    const old = await call(
      c.endpoint(client.believedLeader),
      'CompareAndSwap',
      { key: 'ctr', expected: '5', value: '6', clientId: CLIENT_ID, seq: 5 },
      3000,
    );
    assert.ok(old.kind === 'error' && old.code === 'aborted', `an old seq is refused: ${showResult(old)}`);
  });
});
