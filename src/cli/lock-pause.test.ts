// Real processes (session 12 client audit): the mutex recipe when the *application's* process is
// paused (SIGSTOP) past its TTL — a long GC, a VM migration, a debugger. After SIGCONT:
// - a holder learns at once that it may not hold the lock any more: held() is false before any
//   timer of its own has run, and `lost` fires; meanwhile another contender took the lock;
// - a contender that was waiting never gets the lock: its key went with its grant while it was
//   paused, so the lock is someone else's (it used to return a handle, two holders at once).
// (Under cli/ because only cli may import both client/ and the server's test harness.)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LeasekvClient, lock } from '../client/index.ts';
import { holdClusterLock, withCluster } from '../server/itest/harness.ts';
import { sleep } from '../testkit/wait.ts';

holdClusterLock({ before, after });

const CLIENT = fileURLToPath(new URL('../client/index.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TTL_MS = 1500;

/**
 * An app process that takes lock "job" and reports on stdout, one line each: `holding TOKEN`, then
 * every 20 ms `tick HELD` (held() then); `lost MESSAGE`; or `refused MESSAGE` if lock() rejects.
 */
function app(endpoints: readonly string[]): {
  proc: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, ms: number): Promise<string>;
} {
  const code = `
    import { LeasekvClient, lock } from ${JSON.stringify(CLIENT)};
    const kv = new LeasekvClient({ endpoints: ${JSON.stringify(endpoints)}, deadlineMs: 30000 });
    try {
      const h = await lock(kv, 'job', { ttlMs: ${TTL_MS} });
      console.log('holding ' + h.fencingToken);
      h.lost.then((e) => console.log('lost ' + e.message));
      setInterval(() => console.log('tick ' + h.held()), 20);
    } catch (e) {
      console.log('refused ' + e.message);
    }`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async (re: RegExp, ms: number): Promise<string> => {
    const until = performance.now() + ms;
    for (let from = 0; ;) {
      const hit = lines.slice(from).find((l) => re.test(l));
      if (hit !== undefined) return hit;
      from = lines.length;
      const left = until - performance.now();
      if (left <= 0) throw new Error(`no line matching ${re} within ${ms} ms; lines: ${lines.slice(-5).join(' | ')}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, left);
      });
    }
  };
  return { proc, lines, waitFor };
}

test('mutex: an app paused past its TTL learns after SIGCONT that it lost the lock; a paused waiter never gets it', async (t) => {
  await withCluster(t, { name: 'lock-pause' }, async (c) => {
    await c.waitForLeader();
    const endpoints = c.ids.map((id) => c.clientAddr(id));
    const kv = new LeasekvClient({ endpoints, deadlineMs: 30_000 });
    const procs: ChildProcess[] = [];
    try {
      // 1. A paused holder.
      const a = app(endpoints);
      procs.push(a.proc);
      const tokenA = Number((await a.waitFor(/^holding /, 60_000)).split(' ')[1]);
      await a.waitFor(/^tick true$/, 5000);
      a.proc.kill('SIGSTOP');
      // B gets the lock once A's grant has ended (A cannot keep it alive while stopped).
      const b = await lock(kv, 'job', { ttlMs: TTL_MS });
      assert.ok(b.fencingToken > tokenA);
      const seenBefore = a.lines.length;
      a.proc.kill('SIGCONT');
      await a.waitFor(/^lost /, 5000);
      const after = a.lines.slice(seenBefore).filter((l) => l.startsWith('tick '));
      t.diagnostic(`A after SIGCONT: ${a.lines.slice(seenBefore, seenBefore + 4).join(' | ')}`);
      assert.ok(
        after.length > 0 && after.every((l) => l === 'tick false'),
        `A never believed it held: ${after.join(',')}`,
      );

      // 2. A paused waiter: W waits behind B, is paused past its TTL (its key goes), C queues
      // behind B, B unlocks, C holds; W, resumed, must not.
      const w = app(endpoints);
      procs.push(w.proc);
      for (let i = 0; i < 600 && (await kv.range('job/')).kvs.length < 2; i++) await sleep(50);
      assert.equal((await kv.range('job/')).kvs.length, 2, 'W is waiting');
      w.proc.kill('SIGSTOP');
      for (let i = 0; i < 600 && (await kv.range('job/')).kvs.length > 1; i++) await sleep(50);
      assert.equal((await kv.range('job/')).kvs.length, 1, "W's key went with its grant");
      const cLock = lock(kv, 'job', { ttlMs: TTL_MS });
      await sleep(300);
      await b.unlock();
      const cHeld = await cLock;
      w.proc.kill('SIGCONT');
      const outcome = await w.waitFor(/^(holding|refused) /, 10_000);
      t.diagnostic(`W after SIGCONT: ${outcome}`);
      assert.match(outcome, /^refused /, 'two holders: C and the resumed W');
      assert.ok(cHeld.held());
      await cHeld.unlock();
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      await kv.close();
    }
  });
});
