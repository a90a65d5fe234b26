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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startProxy, type ProxyHandle } from '../../transport/proxy.ts';
import { call, showResult, type CallResult, type ClusterMethod, type Endpoint } from './http.ts';
import { acquireClusterLock, type ClusterLock } from './lock.ts';
import { LEASEKV_BIN, NodeProcess, freePorts, tailFile, waitFor } from './proc.ts';
import { assert } from '../../util/assert.ts';

/** Test timings: must pass the core's config check (lease·(1+ρ)/(1−ρ) < election, heartbeat ≤ lease/3). */
export const FAST_TIMING = { heartbeatMs: 50, electionTimeoutMs: 500, leaseMs: 450, requestTimeoutMs: 2000 } as const;

export interface ClusterOptions {
  readonly size?: number;
  /** One proxy per directed peer link (partitions, latency). */
  readonly proxies?: boolean;
  readonly timing?: Partial<typeof FAST_TIMING>;
  readonly logLevel?: 'debug' | 'info' | 'warn';
  readonly name?: string;
  /** Members beyond `size` with ports and data dirs but not started (n4, n5, … for member changes). */
  readonly spare?: number;
  /** --cluster-token of every node (default itest). */
  readonly clusterToken?: string;
  /** Runs once ports and data dirs are chosen (dirs not yet created), before any node starts (e.g. a restore). */
  readonly beforeStart?: (c: Cluster) => Promise<void>;
}

/**
 * How startNode starts a member. Default: its first start bootstraps with --peers (the initial
 * members), later starts take the members from the data dir (no --peers).
 */
export interface StartHow {
  /** --peers/--client-addrs listing these members (a bootstrap, or a restart that must agree). */
  readonly peers?: readonly string[];
  /** --join with these members' client endpoints (a member just added). */
  readonly join?: readonly string[];
  /** The test expects this start to end by itself (a refusal): its exit is not a crash. */
  readonly expectExit?: boolean;
}

export interface StatusView {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string;
  readonly leaseHeld: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

const HOST = '127.0.0.1';
const MAX_NODES = 7;
/** How long a node may take to exit after SIGTERM (graceful stop hands over leadership first). */
const GRACEFUL_EXIT_MS = 10_000;

interface Member {
  readonly id: string;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly dataDir: string;
  readonly logPath: string;
  proc: NodeProcess | null;
  starts: number;
  /** Set when the harness itself stops the process (kill, terminate): its exit is expected. */
  stoppedByTest: boolean;
}

export class Cluster {
  readonly ids: readonly string[];
  private readonly members = new Map<string, Member>();
  /** key `${from}>${to}` */
  private readonly links = new Map<string, ProxyHandle>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly opts: ClusterOptions,
    ids: string[],
  ) {
    this.ids = ids;
  }

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const size = opts.size ?? 3;
    const total = size + (opts.spare ?? 0);
    if (!(Number.isInteger(size) && size >= 1 && total <= MAX_NODES))
      throw new RangeError(`cluster size (with spares) must be 1..${MAX_NODES}`);
    const dir = mkdtempSync(join(tmpdir(), `leasekv-itest-${opts.name ?? 'cluster'}-`));
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const all = Array.from({ length: total }, (_, i) => `n${i + 1}`);
    const c = new Cluster(dir, opts, ids);
    try {
      const ports = await freePorts(HOST, 2 * total);
      all.forEach((id, i) => {
        c.members.set(id, {
          id,
          peerPort: ports[2 * i] as number,
          clientPort: ports[2 * i + 1] as number,
          dataDir: join(dir, id),
          logPath: join(dir, `${id}.log`),
          proc: null,
          starts: 0,
          stoppedByTest: false,
        });
      });
      if (opts.proxies === true) {
        for (const from of ids) {
          for (const to of ids) {
            if (from === to) continue;
            const target = c.member(to);
            c.links.set(
              `${from}>${to}`,
              await startProxy({ listenHost: HOST, listenPort: 0, targetHost: HOST, targetPort: target.peerPort }),
            );
          }
        }
      }
      await opts.beforeStart?.(c);
      for (const id of ids) c.startNode(id, { peers: ids });
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    assert(m !== undefined, `no member ${id}`);
    return m;
  }

  /** The --peers list as `from` must dial: through the proxies when there are any. */
  private peersFor(from: string, ids: readonly string[]): string {
    return ids
      .map((to) => {
        const link = this.links.get(`${from}>${to}`);
        return `${to}=${HOST}:${link === undefined ? this.member(to).peerPort : link.port}`;
      })
      .join(',');
  }

  /** `id`'s data dir (created by its first start). */
  dataDir(id: string): string {
    return this.member(id).dataDir;
  }

  /** The address `id`'s clients use. */
  clientAddr(id: string): string {
    return `${HOST}:${this.member(id).clientPort}`;
  }

  /** The address the other members dial `id` at (no proxies for members added later). */
  peerAddr(id: string): string {
    return `${HOST}:${this.member(id).peerPort}`;
  }

  private argsFor(id: string, how: StartHow): string[] {
    const m = this.member(id);
    const t = { ...FAST_TIMING, ...this.opts.timing };
    const members: string[] = [];
    if (how.peers !== undefined) {
      members.push(
        '--peers',
        this.peersFor(id, how.peers),
        '--client-addrs',
        how.peers.map((o) => `${o}=${this.clientAddr(o)}`).join(','),
      );
    }
    if (how.join !== undefined) members.push('--join', how.join.map((o) => this.clientAddr(o)).join(','));
    return [
      LEASEKV_BIN,
      'serve',
      '--id',
      id,
      '--data-dir',
      m.dataDir,
      '--listen-peer',
      `${HOST}:${m.peerPort}`,
      '--listen-client',
      `${HOST}:${m.clientPort}`,
      ...members,
      '--cluster-token',
      this.opts.clusterToken ?? 'itest',
      '--heartbeat-ms',
      String(t.heartbeatMs),
      '--election-timeout-ms',
      String(t.electionTimeoutMs),
      '--lease-ms',
      String(t.leaseMs),
      '--request-timeout-ms',
      String(t.requestTimeoutMs),
      '--log-level',
      this.opts.logLevel ?? 'info',
    ];
  }

  /** Starts (or restarts, same ports and data dir) a node that is not running. See StartHow. */
  startNode(id: string, how: StartHow = {}): void {
    const m = this.member(id);
    if (this.closed) throw new Error('cluster is closed');
    assert(m.proc?.alive !== true, `${id} is already running`);
    m.starts++;
    m.stoppedByTest = how.expectExit === true;
    m.proc = NodeProcess.spawn({ args: this.argsFor(id, how), logPath: m.logPath });
  }

  /** The exit of a start made with expectExit (null if it has not exited within timeoutMs). */
  async waitExit(id: string, timeoutMs: number): Promise<{ code: number | null; log: string } | null> {
    const m = this.member(id);
    const exit = (await m.proc?.waitExit(timeoutMs)) ?? null;
    return exit === null ? null : { code: exit.code, log: tailFile(m.logPath, 40) };
  }

  /** Deletes a stopped member's data dir (a host whose disk is gone). */
  wipe(id: string): void {
    const m = this.member(id);
    assert(m.proc?.alive !== true, `${id} is running`);
    rmSync(m.dataDir, { recursive: true, force: true });
  }

  endpoint(id: string): Endpoint {
    return { host: HOST, port: this.member(id).clientPort };
  }

  alive(id: string): boolean {
    return this.member(id).proc?.alive === true;
  }

  liveIds(): string[] {
    return [...this.members.keys()].filter((id) => this.alive(id));
  }

  pid(id: string): number {
    return this.member(id).proc?.pid ?? -1;
  }

  /** kill -9. Resolves once the process is gone. */
  async kill(id: string): Promise<void> {
    this.member(id).stoppedByTest = true;
    await this.member(id).proc?.kill();
  }

  /** SIGTERM and wait for the graceful exit; SIGKILL and throw if it does not come in time. */
  async terminate(id: string): Promise<void> {
    const m = this.member(id);
    const p = m.proc;
    if (p === null || !p.alive) return;
    m.stoppedByTest = true;
    p.signal('SIGCONT');
    p.signal('SIGTERM');
    const exit = await p.waitExit(GRACEFUL_EXIT_MS);
    if (exit === null) {
      await p.kill();
      throw new Error(`${id} did not exit within ${GRACEFUL_EXIT_MS} ms of SIGTERM`);
    }
    if (exit.code !== 0) throw new Error(`${id} exited with code ${exit.code} signal ${exit.signal} after SIGTERM`);
  }

  pause(id: string): void {
    this.member(id).proc?.signal('SIGSTOP');
  }

  resume(id: string): void {
    this.member(id).proc?.signal('SIGCONT');
  }

  // ---- faults through the proxies -------------------------------------------------------------

  link(from: string, to: string): ProxyHandle {
    const l = this.links.get(`${from}>${to}`);
    if (l === undefined) throw new Error(`no proxy ${from}→${to} (start the cluster with proxies: true)`);
    return l;
  }

  /** Cuts every link to and from `id`, both directions. */
  isolate(id: string): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.link(id, other).setBlocked(true);
      this.link(other, id).setBlocked(true);
    }
  }

  /** Unblocks every link. */
  heal(): void {
    for (const l of this.links.values()) l.setBlocked(false);
  }

  /** One-way delay on every link (round trip = 2×). */
  setDelayMs(ms: number): void {
    for (const l of this.links.values()) l.setDelayMs(ms);
  }

  // ---- observing ------------------------------------------------------------------------------

  /** A node that exited although the test did not stop it (crash, bad flags, port clash), if any. */
  crashed(): string | undefined {
    for (const m of this.members.values()) {
      const exit = m.proc?.exit ?? null;
      if (exit !== null && !m.stoppedByTest) {
        return `${m.id} exited unexpectedly (${JSON.stringify(exit)}); its log ends:\n${tailFile(m.logPath, 15)}`;
      }
    }
    return undefined;
  }

  status(id: string, timeoutMs = 1000): Promise<StatusView | CallResult> {
    return statusAt(this.endpoint(id), timeoutMs);
  }

  /**
   * Waits until exactly one of `among` (default: the running nodes) says LEADER and every one of
   * them names it as leader. Returns its id.
   */
  async waitForLeader(timeoutMs = 60_000, among?: readonly string[]): Promise<string> {
    const ids = among ?? this.liveIds();
    return waitForOneLeader(new Map(ids.map((id) => [id, this.endpoint(id)])), timeoutMs, () => this.crashed());
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
      100,
      () => this.crashed(),
    );
  }

  /**
   * A membership change (leasekv.v1.Cluster) through the leader, retried (bounded) while it is
   * refused for a passing reason: not leader, a change in flight, the lease not yet re-confirmed in
   * the new configuration, a learner still catching up. Returns the answer.
   */
  async change(method: ClusterMethod, body: object, timeoutMs = 30_000): Promise<Record<string, unknown>> {
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
      200,
      () => this.crashed(),
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
      100,
      () => this.crashed(),
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
      50,
      () => this.crashed(),
    );
  }

  logPath(id: string): string {
    return this.member(id).logPath;
  }

  /** Log tails and process states, for a failing test's message. */
  diagnostics(lines = 25): string {
    const parts = [`cluster folder: ${this.dir}`];
    for (const m of this.members.values()) {
      const state =
        m.proc === null
          ? 'never started'
          : m.proc.alive
            ? `running pid ${m.proc.pid}`
            : `exited ${JSON.stringify(m.proc.exit)}`;
      parts.push(`--- ${m.id} (${state}, started ${m.starts}×) ${m.logPath}`, tailFile(m.logPath, lines));
    }
    return parts.join('\n');
  }

  /** Kills every node, closes the proxies, removes the folder unless `keep`. Safe to call twice. */
  async close(keep = false): Promise<void> {
    this.closed = true;
    for (const m of this.members.values()) m.stoppedByTest = true;
    await Promise.allSettled([...this.members.values()].map((m) => m.proc?.kill()));
    await Promise.allSettled([...this.links.values()].map((l) => l.close()));
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A node's Status, or the failed call. */
export async function statusAt(ep: Endpoint, timeoutMs = 1000): Promise<StatusView | CallResult> {
  const r = await call(ep, 'Status', {}, timeoutMs);
  if (r.kind !== 'ok') return r;
  const b = r.body;
  return {
    id: String(b['id']),
    role: String(b['role']),
    term: Number(b['term'] ?? 0),
    leader: String(b['leader'] ?? ''),
    leaseHeld: b['leaseHeld'] === true,
    commitIndex: Number(b['commitIndex'] ?? 0),
    appliedIndex: Number(b['appliedIndex'] ?? 0),
  };
}

/**
 * Waits until exactly one of the nodes says LEADER, holds its lease (so a majority has been
 * acknowledging it lately), and all of them name it. Returns its id.
 */
export function waitForOneLeader(
  endpoints: ReadonlyMap<string, Endpoint>,
  timeoutMs: number,
  hopeless: () => string | undefined = () => undefined,
): Promise<string> {
  return waitFor(
    `one leader among ${[...endpoints.keys()].join(',')}`,
    timeoutMs,
    async () => {
      const views = await Promise.all([...endpoints.values()].map((ep) => statusAt(ep)));
      const leaders = views.filter((v): v is StatusView => 'role' in v && v.role === 'LEADER');
      if (leaders.length !== 1 || !(leaders[0] as StatusView).leaseHeld) return undefined;
      const leader = (leaders[0] as StatusView).id;
      return views.every((v) => 'role' in v && v.leader === leader) ? leader : undefined;
    },
    50,
    hopeless,
  );
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
