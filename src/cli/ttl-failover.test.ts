// Real processes (issue 14): a key attached to a TTL grant lives while the grant is kept alive —
// across a leader kill (the new leader restarts every countdown in full) — and is deleted once the
// keep-alives stop, never before the TTL after the last acknowledged keep-alive (a safety property,
// checked as a lower bound: load can only make the deletion later).
// (Under cli/ because only cli may import both client/ and the server's test harness.)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LeasekvClient } from '../client/index.ts';
import { holdClusterLock, withCluster } from '../server/itest/harness.ts';
import { sleep } from '../testkit/wait.ts';

holdClusterLock({ before, after });

/** Long enough that keep-alives reach a new leader in time on a loaded machine (it restarts every countdown in full). */
const TTL_MS = 3000;
/** "No hang" bound for the deletion after the last keep-alive: TTL + elections, with room for a loaded machine. */
const GONE_WITHIN_MS = 30_000;

test('TTL grant: kept alive across a leader kill; deleted after the keep-alives stop, never early', async (t) => {
  await withCluster(t, { name: 'ttl' }, async (c) => {
    const leader = await c.waitForLeader();
    const endpoints = [c.clientAddr(leader), ...c.ids.filter((id) => id !== leader).map((id) => c.clientAddr(id))];
    const client = new LeasekvClient({ endpoints, deadlineMs: 20_000 });
    const grant = await client.ttlGrant(TTL_MS);
    await client.put('svc/me', 'alive', { ttlId: grant.id });
    await client.put('svc/other', 'stays');
    await assert.rejects(
      client.put('svc/x', 'y', { ttlId: grant.id + 1000 }),
      (e: unknown) => (e as { code?: string }).code === 'not_found',
    );

    // Keep-alives, recording when the last acknowledged one was sent: the leader restarted the
    // countdown when it got it, no earlier (its answer can come much later on a loaded machine).
    const stop = new AbortController();
    let lastAckSentMs = performance.now();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        try {
          const sentMs = performance.now();
          await client.ttlKeepAlive(grant.id, { deadlineMs: TTL_MS / 2 });
          lastAckSentMs = sentMs;
        } catch {
          // The leader is gone or starting: the next attempt goes elsewhere.
        }
        await sleep(TTL_MS / 5);
      }
    })();
    await sleep(TTL_MS);
    await c.kill(leader);
    t.diagnostic(`killed leader ${leader}`);
    // Three TTLs later, with keep-alives going to the new leader, the key is still there.
    await sleep(3 * TTL_MS);
    assert.equal((await client.get('svc/me')).value, 'alive', 'kept alive across the leader change');
    c.startNode(leader);

    stop.abort();
    await loop;
    const stoppedAfterAckMs = lastAckSentMs;
    let goneAtMs = 0;
    const watchFrom = (await client.get('svc/other')).revision;
    for (const deadline = performance.now() + GONE_WITHIN_MS; performance.now() < deadline;) {
      const r = await client.get('svc/me');
      if (!r.found) {
        goneAtMs = performance.now();
        break;
      }
      await sleep(50);
    }
    assert.ok(goneAtMs > 0, `the key outlived its grant by more than ${GONE_WITHIN_MS} ms`);
    const afterMs = Math.round(goneAtMs - stoppedAfterAckMs);
    t.diagnostic(`deleted ${afterMs} ms after the last acknowledged keep-alive (TTL ${TTL_MS} ms)`);
    assert.ok(
      afterMs >= TTL_MS,
      `deleted ${afterMs} ms after the last keep-alive: earlier than the TTL of ${TTL_MS} ms`,
    );
    assert.equal((await client.get('svc/other')).value, 'stays');
    // The deletion is a watch event like any other.
    const it = client.watch('svc/me', { startRevision: watchFrom + 1 });
    const ev = await it.next();
    assert.equal(ev.value?.events[0]?.type, 'DELETE');
    await it.return(undefined);
    await assert.rejects(client.ttlKeepAlive(grant.id), (e: unknown) => (e as { code?: string }).code === 'not_found');
    await client.close();
  });
});
