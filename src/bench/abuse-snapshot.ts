// The million-key snapshot of `--scenario abuse` (issue 13), bounded in time so that the whole
// scenario runs in a few minutes: the keys are written as transactions of 128 puts by 16 writers
// at the leader (snapshots are taken meanwhile, every 10,000 entries, under the probe's and the
// load's writes) until all are in or the bound passes; then a follower is killed, its data dir
// wiped, and it is replaced (MemberRemove, MemberAdd, serve --join) — it catches up from the
// leader's snapshot, also within a bound.
import { rmSync } from 'node:fs';
import { keyName } from './load.ts';
import { postJson, sleep } from './procs.ts';
import { replaceLeasekvMember, type LeasekvCluster, type Member } from './systems.ts';

const BATCH = 128;
const WRITERS = 16;

/** Loads up to `keys` keys; stops at `boundMs`. Resolves with the keys acknowledged and the seconds taken. */
export async function loadKeysBounded(
  c: LeasekvCluster,
  keys: number,
  valueBytes: number,
  boundMs: number,
): Promise<{ loaded: number; seconds: number }> {
  const value = 'v'.repeat(valueBytes);
  const batches = Math.ceil(keys / BATCH);
  const t0 = performance.now();
  let next = 0;
  let loaded = 0;
  let port = (await c.leader()).clientPort;
  const writer = async (): Promise<void> => {
    while (next < batches && performance.now() - t0 < boundMs) {
      const b = next++;
      const success = [];
      for (let i = b * BATCH; i < Math.min(keys, (b + 1) * BATCH); i++)
        success.push({ requestPut: { key: keyName(i), value } });
      while (performance.now() - t0 < boundMs) {
        const r = await postJson(port, '/leasekv.v1.KV/Txn', { success }, 10_000).catch(() => null);
        if (r?.status === 200) {
          loaded += success.length;
          break;
        }
        await sleep(50);
        port = (await c.leader(10_000).catch(() => null))?.clientPort ?? port;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  return { loaded, seconds: (performance.now() - t0) / 1000 };
}

async function appliedIndex(m: Member): Promise<number> {
  const r = await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 2000);
  return Number((r.body as { appliedIndex?: string }).appliedIndex ?? 0);
}

/**
 * Kills a follower, wipes its disk and replaces it; waits (at most `boundMs` from the kill) for the
 * replacement to apply what the leader had applied when it joined. `joined` is told the new member
 * list (the probe follows it). Resolves with how the replacement did.
 */
export async function replaceWipedFollower(c: LeasekvCluster, boundMs: number, joined: () => void): Promise<string> {
  const l = await c.leader();
  const follower = c.members.find((m) => m !== l && m.pid !== undefined) as Member;
  await c.kill(follower);
  rmSync(follower.dataDir, { recursive: true, force: true });
  const t0 = performance.now();
  const left = (): number => boundMs - (performance.now() - t0);
  const fresh = await Promise.race([replaceLeasekvMember(c, follower), sleep(boundMs).then(() => null)]);
  if (fresh === null) return `replacement not started within ${boundMs / 1000} s (bound)`;
  joined();
  const target = await appliedIndex(await c.leader());
  while (left() > 0) {
    if ((await appliedIndex(fresh).catch(() => 0)) >= target)
      return `replacement ${fresh.id} caught up (index ${target}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    await sleep(250);
  }
  return `replacement ${fresh.id} had not caught up (index ${target}) within ${boundMs / 1000} s (bound)`;
}
