// Real processes (issue 14): the mutex recipe. A `leasekv lock` process holds mutex "job" and is
// killed (kill -9, with its command); a waiting contender gets the lock only once the dead holder's
// TTL grant has ended, with a larger fencing token; then `leasekv lock -- COMMAND` runs a command
// with the next token in its environment.
// (Under cli/ because only cli may import both client/ and the server's test harness.)
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LeasekvClient, lock } from '../client/index.ts';
import { holdClusterLock, withCluster } from '../server/itest/harness.ts';
import { sleep } from '../testkit/wait.ts';

holdClusterLock({ before, after });

const BIN = fileURLToPath(new URL('../../bin/leasekv.mjs', import.meta.url));
/** A's keep-alives (every TTL/3) must get through within it while B waits, on a loaded machine too. */
const TTL_MS = 3000;

test('mutex: a killed holder is replaced only after its TTL; fencing tokens grow; leasekv lock runs a command', async (t) => {
  await withCluster(t, { name: 'lock' }, async (c) => {
    await c.waitForLeader();
    const endpoints = c.ids.map((id) => c.clientAddr(id)).join(',');
    const client = new LeasekvClient({ endpoints: endpoints.split(','), deadlineMs: 30_000 });
    // Holder A: a separate process (its own process group, so that the kill takes its command too).
    const holder = spawn(
      process.execPath,
      [BIN, 'lock', 'job', '--ttl-ms', String(TTL_MS), '--endpoints', endpoints, '--', 'sleep', '60'],
      { detached: true, stdio: 'ignore' },
    );
    try {
      let tokenA = 0;
      let keyA = '';
      for (let i = 0; i < 1200 && tokenA === 0; i++) {
        const r = await client.range('job/');
        tokenA = r.kvs[0]?.createRevision ?? 0;
        keyA = r.kvs[0]?.key ?? '';
        if (tokenA === 0) await sleep(50);
      }
      assert.ok(tokenA > 0, 'the holder process took the lock');
      // A contender's key is job/<its grant id, zero-padded> (client/recipes.ts).
      const grantA = Number(keyA.slice('job/'.length));
      // Contender B waits.
      let acquiredAt = 0;
      const b = lock(client, 'job', { ttlMs: TTL_MS }).then((h) => {
        acquiredAt = performance.now();
        return h;
      });
      await sleep(TTL_MS * 2);
      assert.equal(acquiredAt, 0, 'exclusion: B waits while A is alive and keeps its grant alive');
      // One more keep-alive of A's grant, sent by this test just before the kill: the grant cannot end
      // before TTL after its send (the leader restarts the countdown when it gets it, no earlier).
      // A bound that load cannot break — A's own last keep-alive may be seconds older on a loaded
      // machine, so 'TTL/2 after the kill' was not one.
      const keptAt = performance.now();
      await client.ttlKeepAlive(grantA);
      process.kill(-(holder.pid as number), 'SIGKILL');
      const held = await b;
      const waitedMs = Math.round(acquiredAt - keptAt);
      t.diagnostic(
        `B got the lock ${waitedMs} ms after A's grant was last kept alive (TTL ${TTL_MS} ms); tokens ${tokenA} → ${held.fencingToken}`,
      );
      assert.ok(
        waitedMs >= TTL_MS,
        `B acquired ${waitedMs} ms after A's grant was kept alive: before the grant could have ended`,
      );
      assert.ok(held.fencingToken > tokenA, 'the fencing token grows');
      await held.unlock();

      const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [
            BIN,
            'lock',
            'job',
            '--endpoints',
            endpoints,
            '--',
            process.execPath,
            '-e',
            'console.log(process.env.LEASEKV_FENCING_TOKEN); process.exit(3)',
          ],
          { timeout: 60_000 },
          (err, stdout, stderr) =>
            resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
        );
      });
      assert.equal(cli.code, 3, `the command's exit code is passed on: ${cli.stderr}`);
      assert.ok(Number(cli.stdout.trim()) > held.fencingToken, `token ${cli.stdout.trim()} after ${held.fencingToken}`);
      assert.equal((await client.range('job/')).kvs.length, 0, 'released after the command exited');
    } finally {
      try {
        process.kill(-(holder.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await client.close();
    }
  });
});
