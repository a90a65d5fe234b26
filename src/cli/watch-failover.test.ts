// Real processes (issue 14): a watcher on the leader sees every acknowledged write exactly once and
// in revision order while that leader is killed (kill -9) and later restarted: the client library
// resumes on another member from the revision after the last one it saw. Also: a transaction's
// events arrive together, and the CLI prints one JSON object per event.
// (Under cli/ because only cli may import both client/ and the server's test harness.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LeasekvClient, type WatchResponse } from '../client/index.ts';
import { holdClusterLock, withCluster } from '../server/itest/harness.ts';

holdClusterLock({ before, after });

const BIN = fileURLToPath(new URL('../../bin/leasekv.mjs', import.meta.url));
const WRITES = 60;

test('watch across a leader kill: every write once, in order; txn events together; the CLI', async (t) => {
  await withCluster(t, { name: 'watch' }, async (c) => {
    const leader = await c.waitForLeader();
    const others = c.ids.filter((id) => id !== leader);
    const endpoints = [c.clientAddr(leader), ...others.map((id) => c.clientAddr(id))];
    const writer = new LeasekvClient({ endpoints, deadlineMs: 30_000 });
    // The watcher asks the leader first: it is the member killed below.
    const watcher = new LeasekvClient({ endpoints });
    const stop = new AbortController();
    const seen: WatchResponse[] = [];
    const members = new Set<string>();
    const first = await writer.put('w/start', 'x');
    const watching = (async () => {
      for await (const r of watcher.watch('w/', {
        prefix: true,
        startRevision: first.revision + 1,
        signal: stop.signal,
        idleTimeoutMs: 3000,
      })) {
        seen.push(r);
        members.add(r.memberId);
        if (seen.reduce((n, b) => n + b.events.length, 0) >= WRITES + 2) break;
      }
    })();
    const acked: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      if (i === WRITES / 3) {
        await c.kill(leader);
        t.diagnostic(`killed leader ${leader} after ${i} writes`);
      }
      if (i === (2 * WRITES) / 3) c.startNode(leader);
      acked.push((await writer.put(`w/${String(i).padStart(3, '0')}`, `v${i}`)).revision);
    }
    // One transaction writing two keys: one revision, one batch.
    const tx = await writer.txn({
      success: [
        { op: 'put', key: 'w/tx-a', value: '1' },
        { op: 'put', key: 'w/tx-b', value: '1' },
      ],
    });
    await Promise.race([
      watching,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`watch stalled: ${seen.length} batches`)), 60_000)),
    ]);
    stop.abort();

    const events = seen.flatMap((b) =>
      b.events.map((e) => ({ rev: b.revision, key: e.kv.key, value: e.kv.value, mod: e.kv.modRevision })),
    );
    t.diagnostic(`${events.length} events from members ${[...members].join(', ')}`);
    // Every write once, in order, at the revision its put answered with; nothing else.
    assert.deepEqual(
      events.slice(0, WRITES).map((e) => [e.key, e.value, e.mod]),
      acked.map((rev, i) => [`w/${String(i).padStart(3, '0')}`, `v${i}`, rev]),
    );
    const revs = seen.map((b) => b.revision);
    assert.deepEqual(
      revs,
      [...revs].sort((a, b) => a - b),
      'batches in revision order',
    );
    assert.equal(new Set(revs).size, revs.length, 'no revision twice');
    const txBatch = seen.at(-1);
    assert.deepEqual(
      txBatch?.events.map((e) => e.kv.key),
      ['w/tx-a', 'w/tx-b'],
      'the transaction in one batch',
    );
    assert.equal(txBatch?.revision, tx.revision);
    assert.ok(members.size >= 2, `the watch moved to another member after the kill (${[...members].join(', ')})`);

    // The CLI: from a past revision, -w json, one object per line.
    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          BIN,
          'watch',
          'w/tx-',
          '--prefix',
          '--rev',
          String(tx.revision),
          '--count',
          '2',
          '-w',
          'json',
          '--endpoints',
          endpoints.join(','),
        ],
        { timeout: 120_000 /* only a hang: tsx start-up under load */ },
        (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
      );
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(
      cli.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      ['w/tx-a', 'w/tx-b'].map((key) => ({
        type: 'PUT',
        key,
        value: '1',
        modRevision: tx.revision,
        createRevision: tx.revision,
        version: 1,
      })),
    );
    await writer.close();
    await watcher.close();
  });
});
