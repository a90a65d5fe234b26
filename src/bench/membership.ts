// `--scenario membership`: the pause in lease reads and in writes during each kind of membership
// change (issue 12). A 3-node cluster on 127.0.0.1 runs a lease-read probe and a write probe, each a
// closed loop against the current leader; meanwhile the scenario adds a learner (a new process
// started with --join), promotes it, transfers leadership, removes a follower and removes the
// leader. For each change: the longest gap between successful reads and between successful writes
// in a window around it, and the change's own latency. Numbers, never assertions.
import { join } from 'node:path';
import { postJson, sleep, waitFor } from './procs.ts';
import { startLeasekv, type LeasekvCluster, type Member } from './systems.ts';

export const CHANGES = ['add learner', 'promote', 'transfer leadership', 'remove follower', 'remove leader'] as const;
export type ChangeKind = (typeof CHANGES)[number] | 'none (baseline)';

export interface ChangePause {
  readonly change: ChangeKind;
  /** The change's API call(s) from the first attempt until it succeeded (retries included). */
  readonly changeMs: number;
  /** Linearizable reads, answered from the lease or by a ReadIndex round. */
  readonly maxReadGapMs: number;
  /** Reads answered from the lease (readMode READ_MODE_LEASE) only. */
  readonly maxLeaseReadGapMs: number;
  readonly maxWriteGapMs: number;
}

/** Probe period (sleep between two probes of one loop) and per-request timeout. */
const PROBE_PAUSE_MS = 5;
const PROBE_TIMEOUT_MS = 500;
/** The window around a change: this much before its first call, this much after it is done. */
const WINDOW_BEFORE_MS = 500;
const WINDOW_AFTER_MS = 1500;
/** Every loop and wait of one round ends by this (ms). */
const ROUND_BUDGET_MS = 120_000;

interface StatusView {
  role?: string;
  term?: string;
  leaseHeld?: boolean;
}

/**
 * The live member that leads in the highest term (with a lease, if `withLease`), or undefined. The
 * probes do not ask for a lease: a new leader takes writes while it waits out the old leader's
 * lease (docs/lease-safety.md, step 9), and a lease read sent to it then shows what the wait costs.
 */
async function findLeader(live: readonly Member[], withLease: boolean): Promise<Member | undefined> {
  const views = await Promise.all(
    live.map(async (m) => ({
      m,
      st: ((await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 300).catch(() => null))?.body ??
        {}) as StatusView,
    })),
  );
  const leaders = views
    .filter((v) => v.st.role === 'LEADER' && (!withLease || v.st.leaseHeld === true))
    .sort((a, b) => Number(b.st.term ?? 0) - Number(a.st.term ?? 0));
  return leaders[0]?.m;
}

/**
 * A closed loop of one kind of request against the leader; records the time of every success, and
 * in `lease` of every answer that says it was served from the lease.
 */
function probeLoop(
  live: () => readonly Member[],
  path: string,
  body: object,
  stop: () => boolean,
): { ok: number[]; lease: number[]; done: Promise<void> } {
  const ok: number[] = [];
  const lease: number[] = [];
  const done = (async () => {
    let target: Member | undefined;
    while (!stop()) {
      target ??= await findLeader(live(), false);
      const r =
        target === undefined ? null : await postJson(target.clientPort, path, body, PROBE_TIMEOUT_MS).catch(() => null);
      if (r?.status === 200) {
        const now = performance.now();
        ok.push(now);
        if ((r.body as { readMode?: string }).readMode === 'READ_MODE_LEASE') lease.push(now);
      } else target = undefined;
      await sleep(PROBE_PAUSE_MS);
    }
  })();
  return { ok, lease, done };
}

/** Longest gap between successes within [from, to], counting the window's edges as successes. */
export function maxGap(successes: readonly number[], from: number, to: number): number {
  let last = from;
  let gap = 0;
  for (const t of successes) {
    if (t <= from) continue;
    if (t >= to) break;
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

/** One call of the Cluster service at the leader, retried while the answer says "not yet". */
async function change(live: readonly Member[], method: string, body: object): Promise<Record<string, unknown>> {
  let out: Record<string, unknown> = {};
  await waitFor(`${method} ${JSON.stringify(body)}`, 30_000, async () => {
    const leader = await findLeader(live, true);
    if (leader === undefined) return false;
    const r = await postJson(leader.clientPort, `/leasekv.v1.Cluster/${method}`, body, 10_000).catch(() => null);
    if (r === null) return false;
    if (r.status === 200) {
      out = r.body as Record<string, unknown>;
      return true;
    }
    const text = JSON.stringify(r.body);
    if (/not leader|change-in-flight|lease-not-confirmed|not-caught-up|unavailable|deadline/.test(text)) return false;
    throw new Error(`${method} ${JSON.stringify(body)} failed: ${r.status} ${text}`);
  });
  return out;
}

/** One round on a fresh cluster: a quiet baseline window, then each change of CHANGES in turn. */
export async function membershipRound(dir: string, say: (l: string) => void): Promise<ChangePause[]> {
  const c: LeasekvCluster = await startLeasekv({ nodes: 3, peerDelayMs: 0, dir, log: say, leaseReads: true });
  const live: Member[] = [...c.members];
  const deadline = performance.now() + ROUND_BUDGET_MS;
  let stopped = false;
  const stop = (): boolean => stopped || performance.now() > deadline;
  // A value for the lease-read probe to read.
  await waitFor(
    'a first write',
    10_000,
    async () =>
      (await postJson((await c.leader()).clientPort, '/leasekv.v1.KV/Put', { key: 'probe', value: 'x' }, 1000))
        .status === 200,
  );
  const reads = probeLoop(() => live, '/leasekv.v1.KV/Get', { key: 'probe' }, stop);
  const writes = probeLoop(() => live, '/leasekv.v1.KV/Put', { key: 'probe-w', value: 'x' }, stop);
  const out: ChangePause[] = [];
  const timed = async (kind: ChangeKind, act: () => Promise<number>): Promise<void> => {
    const t0 = performance.now();
    const changeMs = await act();
    const t1 = performance.now();
    await sleep(WINDOW_AFTER_MS);
    const from = t0 - WINDOW_BEFORE_MS;
    const to = t1 + WINDOW_AFTER_MS;
    const p: ChangePause = {
      change: kind,
      changeMs,
      maxReadGapMs: maxGap(reads.ok, from, to),
      maxLeaseReadGapMs: maxGap(reads.lease, from, to),
      maxWriteGapMs: maxGap(writes.ok, from, to),
    };
    say(
      `  ${kind}: change ${p.changeMs.toFixed(0)} ms, longest gap reads ${p.maxReadGapMs.toFixed(0)} ms (lease-served ${p.maxLeaseReadGapMs.toFixed(0)} ms), writes ${p.maxWriteGapMs.toFixed(0)} ms`,
    );
    out.push(p);
    await sleep(WINDOW_BEFORE_MS);
  };
  const callMs = async (method: string, body: object): Promise<number> => {
    const t = performance.now();
    await change(live, method, body);
    return performance.now() - t;
  };
  try {
    await sleep(1000);
    await timed('none (baseline)', async () => {
      await sleep(1000);
      return 0;
    });
    // Add a learner, then start it with --join; the window runs until it answers.
    const id = 'n4';
    const fresh = await c.plan(id);
    await timed('add learner', async () => {
      const ms = await callMs('MemberAdd', {
        id,
        peerAddr: `127.0.0.1:${fresh.peerPort}`,
        clientAddr: `127.0.0.1:${fresh.clientPort}`,
        learner: true,
      });
      c.members.push(fresh);
      live.push(fresh);
      await c.join(fresh);
      return ms;
    });
    await timed('promote', () => callMs('MemberPromote', { id }));
    await timed('transfer leadership', () => callMs('TransferLeadership', {}));
    const leader = (await findLeader(live, true)) ?? (await c.leader());
    const follower = live.find((m) => m !== leader) as Member;
    await timed('remove follower', async () => {
      const ms = await callMs('MemberRemove', { id: follower.id });
      live.splice(live.indexOf(follower), 1);
      await c.terminate(follower);
      return ms;
    });
    const oldLeader = (await findLeader(live, true)) ?? (await c.leader());
    await timed('remove leader', async () => {
      const ms = await callMs('MemberRemove', { id: oldLeader.id });
      live.splice(live.indexOf(oldLeader), 1);
      await c.terminate(oldLeader);
      return ms;
    });
  } finally {
    stopped = true;
    await Promise.all([reads.done, writes.done]);
    await c.stop();
  }
  return out;
}

/** `rounds` rounds, each on a fresh cluster, back to back. */
export async function membershipScenario(
  dir: string,
  rounds: number,
  say: (l: string) => void,
): Promise<ChangePause[][]> {
  const out: ChangePause[][] = [];
  for (let i = 0; i < rounds; i++) {
    say(`membership round ${i + 1} of ${rounds}`);
    out.push(await membershipRound(join(dir, `leasekv-membership-${i + 1}`), say));
  }
  return out;
}

/** Per change, the median over the rounds of each measure. */
export function medians(rounds: readonly (readonly ChangePause[])[]): ChangePause[] {
  const med = (v: number[]): number => v.sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
  const kinds = rounds[0]?.map((p) => p.change) ?? [];
  return kinds.map((change) => {
    const xs = rounds.map((r) => r.find((p) => p.change === change)).filter((p): p is ChangePause => p !== undefined);
    return {
      change,
      changeMs: med(xs.map((x) => x.changeMs)),
      maxReadGapMs: med(xs.map((x) => x.maxReadGapMs)),
      maxLeaseReadGapMs: med(xs.map((x) => x.maxLeaseReadGapMs)),
      maxWriteGapMs: med(xs.map((x) => x.maxWriteGapMs)),
    };
  });
}
