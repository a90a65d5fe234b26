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
const TTL_MS = 1500;

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
      for (let i = 0; i < 200 && tokenA === 0; i++) {
        const r = await client.range('job/');
        tokenA = r.kvs[0]?.createRevision ?? 0;
        if (tokenA === 0) await sleep(50);
      }
      assert.ok(tokenA > 0, 'the holder process took the lock');
      // Contender B waits.
      let acquiredAt = 0;
      const b = lock(client, 'job', { ttlMs: TTL_MS }).then((h) => {
        acquiredAt = performance.now();
        return h;
      });
      await sleep(TTL_MS * 2);
      assert.equal(acquiredAt, 0, 'exclusion: B waits while A is alive and keeps its grant alive');
      process.kill(-(holder.pid as number), 'SIGKILL');
      const killedAt = performance.now();
      const held = await b;
      const waitedMs = Math.round(acquiredAt - killedAt);
      t.diagnostic(
        `B got the lock ${waitedMs} ms after A was killed (TTL ${TTL_MS} ms); tokens ${tokenA} → ${held.fencingToken}`,
      );
      // A's last keep-alive was at most TTL/3 (+ a round trip) before the kill; its grant cannot end
      // before TTL after that, so B cannot hold the lock within TTL/2 of the kill.
      assert.ok(waitedMs >= TTL_MS / 2, `B acquired ${waitedMs} ms after the kill: before A's grant could have ended`);
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
