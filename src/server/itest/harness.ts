// A cluster of real `leasekv serve` processes on 127.0.0.1 for the integration tests (issue 5,
// "Tests with real processes"). Free ports, a temp folder with one data dir and one log per node,
// optionally one fault-injecting proxy per directed peer link, fast test timings, and bounded waits
// everywhere. `close()` kills every child; `withCluster` calls it whatever happens.
//
// Proxies: node i reaches node j at proxy(i→j), which forwards to j's --listen-peer. Messages only
// travel on the sender's outbound connection (transport/outbound.ts), so blocking proxy(i→j) drops
// exactly the i→j direction; isolate(i) blocks both directions of every link of i. Each node gets
// its own --peers list, which is the point of --peers: the address others dial is not the address a
// node listens on.
//
// Run: `node scripts/test.mjs src/server/itest` (files take turns: see lock.ts). A failing test keeps
// its folder (data dirs, node logs, history.jsonl) and prints the log tails; LEASEKV_ITEST_KEEP=1
// keeps it on success too.
import type { TestContext } from 'node:test';
import { ProcessCluster, type ClusterOptions } from '../../testkit/cluster.ts';
import { call, showResult, type ClusterMethod } from '../../testkit/http.ts';
import type { StatusView } from '../../testkit/status.ts';
import { waitFor } from '../../testkit/wait.ts';
import { acquireClusterLock, type ClusterLock } from './lock.ts';
import { EXIT_MEMBER_REMOVED } from '../removal.ts';

export { FAST_TIMING, type ClusterOptions, type StartHow } from '../../testkit/cluster.ts';
export { statusAt, waitForOneLeader, type StatusView } from '../../testkit/status.ts';

/** The process cluster (src/testkit/cluster.ts) and what the integration tests ask of it through the API. */
export class Cluster extends ProcessCluster {
  /** Members the test removed: each stops by itself once it learns it, with EXIT_MEMBER_REMOVED (not a crash). */
  private readonly removedByTest = new Set<string>();

  /** The test removes `id` (change() does this itself for MemberRemove): its exit with code 3 is expected. */
  expectRemoved(id: string): void {
    this.removedByTest.add(id);
  }

  /** True if `id` was removed by the test and has exited as a removed member does. */
  private exitedRemoved(id: string): boolean {
    return this.removedByTest.has(id) && this.member(id).proc?.exit?.code === EXIT_MEMBER_REMOVED;
  }

  /** Whether `id`'s running process may exit by itself (a fault that stops it: a full disk) or no longer. */
  expectExit(id: string, expected: boolean): void {
    this.member(id).stoppedByTest = expected;
  }

  override crashed(): string | undefined {
    for (const id of this.removedByTest) if (this.exitedRemoved(id)) this.member(id).stoppedByTest = true;
    return super.crashed();
  }

  /** As ProcessCluster's; a removed member that exits by itself meanwhile ends cleanly too. */
  override async terminate(id: string): Promise<void> {
    try {
      await super.terminate(id);
    } catch (e) {
      if (!this.exitedRemoved(id)) throw e;
    }
  }

  /**
   * Finds the leader and writes key=value through it, retrying (bounded) if leadership moves in
   * between — on a loaded machine a new leader can lose its lease again right after an election.
   * The write carries a session, so a retry cannot apply it twice. Returns the leader that took it.
   */
  async writeViaLeader(key: string, value: string, timeoutMs = 60_000): Promise<string> {
    const session = { clientId: `harness-${key}-${value}`.slice(0, 100), seq: 1 };
    return waitFor(
      `a leader to accept ${key}=${value}`,
      timeoutMs,
      async () => {
        const leader = await this.waitForLeader(Math.min(timeoutMs, 30_000));
        const r = await call(this.endpoint(leader), 'Put', { key, value, ...session }, 3000);
        return r.kind === 'ok' ? leader : undefined;
      },
      { intervalMs: 100, hopeless: () => this.crashed() },
    );
  }

  /**
   * A membership change (leasekv.v1.Cluster) through the leader, retried (bounded) while it is
   * refused for a passing reason: not leader, a change in flight, the lease not yet re-confirmed in
   * the new configuration, a learner still catching up. Returns the answer.
   */
  async change(method: ClusterMethod, body: object, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const removing = (body as { id?: unknown }).id;
    if (method === 'MemberRemove' && typeof removing === 'string') this.expectRemoved(removing);
    return waitFor(
      `${method} ${JSON.stringify(body)}`,
      timeoutMs,
      async () => {
        // The node that leads with a lease in the highest term (a removed member that still runs
        // may not know the leader, so not everyone need agree).
        const views = await Promise.all(this.liveIds().map((id) => this.status(id)));
        const leaders = views
          .filter((v): v is StatusView => 'role' in v && v.role === 'LEADER' && v.leaseHeld)
          .sort((a, b) => b.term - a.term);
        const leader = leaders[0]?.id;
        if (leader === undefined) return undefined;
        const r = await call(this.endpoint(leader), method, body, 10_000);
        if (r.kind === 'ok') return r.body;
        const last = showResult(r);
        // A retry after an answer that was lost: the change had been made.
        if (
          r.kind === 'error' &&
          r.code === 'failed_precondition' &&
          /already-member/.test(r.message) &&
          method === 'MemberAdd'
        )
          return {};
        if (
          r.kind === 'error' &&
          r.code === 'failed_precondition' &&
          /removed-id|unknown-member/.test(r.message) &&
          method === 'MemberRemove'
        )
          return {};
        if (r.kind === 'network' || r.code === 'unavailable' || r.code === 'deadline_exceeded') return undefined;
        if (
          r.kind === 'error' &&
          r.code === 'failed_precondition' &&
          /not leader|change-in-flight|lease-not-confirmed|learner-not-caught-up|not-caught-up/.test(r.message)
        )
          return undefined;
        throw new Error(`${method} ${JSON.stringify(body)} failed: ${last}`);
      },
      { intervalMs: 200, hopeless: () => this.crashed() },
    );
  }

  /** The members as `id`'s MemberList says: id → 'voter' | 'learner'. */
  async memberRoles(id: string): Promise<Map<string, string>> {
    const r = await call(this.endpoint(id), 'MemberList', {}, 3000);
    if (r.kind !== 'ok') throw new Error(`MemberList at ${id}: ${showResult(r)}`);
    const ms = (r.body['members'] ?? []) as { id: string; learner?: boolean }[];
    return new Map(ms.map((m) => [m.id, m.learner === true ? 'learner' : 'voter']));
  }

  /** Waits until every id in `ids` reports exactly `want` (id → role) in its MemberList. */
  async waitMembers(want: ReadonlyMap<string, string>, ids: readonly string[], timeoutMs = 30_000): Promise<void> {
    const text = [...want]
      .map(([k, v]) => `${k}:${v}`)
      .sort()
      .join(',');
    await waitFor(
      `members ${text} on ${ids.join(',')}`,
      timeoutMs,
      async () => {
        for (const id of ids) {
          const got = await this.memberRoles(id).catch(() => null);
          if (
            got === null ||
            [...got]
              .map(([k, v]) => `${k}:${v}`)
              .sort()
              .join(',') !== text
          )
            return undefined;
        }
        return true;
      },
      { intervalMs: 100, hopeless: () => this.crashed() },
    );
  }

  /** Waits until every node in `ids` has applied at least `index`. */
  async waitApplied(index: number, ids: readonly string[], timeoutMs = 10_000): Promise<void> {
    await waitFor(
      `applied index ${index} on ${ids.join(',')}`,
      timeoutMs,
      async () => {
        const views = await Promise.all(ids.map((id) => this.status(id)));
        return views.every((v) => 'appliedIndex' in v && v.appliedIndex >= index) ? true : undefined;
      },
      { intervalMs: 50, hopeless: () => this.crashed() },
    );
  }
}

/** Holds the cluster lock for the whole test file (one cluster at a time on this machine). */
export function holdClusterLock(hooks: {
  before: (fn: () => Promise<void>) => void;
  after: (fn: () => void) => void;
}): void {
  let lock: ClusterLock | null = null;
  hooks.before(async () => {
    lock = await acquireClusterLock(15 * 60_000);
  });
  hooks.after(() => lock?.release());
}

/**
 * Runs `body` against a fresh cluster and always closes it. On failure the folder (data dirs and
 * logs) is kept and the log tails are printed, so the failure can be read after the fact.
 */
export async function withCluster(
  t: TestContext,
  opts: ClusterOptions,
  body: (c: Cluster) => Promise<void>,
): Promise<void> {
  const c = await Cluster.start(opts);
  t.after(() => c.close(true)); // belt and braces: the finally below normally did it already
  let failed = true;
  try {
    await body(c);
    const crash = c.crashed();
    if (crash !== undefined) throw new Error(crash);
    failed = false;
  } catch (e) {
    t.diagnostic(`cluster diagnostics:\n${c.diagnostics()}`);
    console.error(c.diagnostics());
    throw e;
  } finally {
    await c.close(failed || process.env['LEASEKV_ITEST_KEEP'] === '1');
  }
}

export { showResult };
