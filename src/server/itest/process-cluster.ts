// The process side of the integration tests' cluster (harness.ts builds on it): real `leasekv serve`
// processes on free 127.0.0.1 ports, one data dir and one log per node in a temp folder, optionally
// one fault-injecting proxy per directed peer link; start, kill, terminate, pause and restart them;
// `close()` kills every child. See harness.ts for the proxies and how to run the tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, type ProxyHandle } from '../../transport/proxy.ts';
import type { Endpoint } from './http.ts';
import { LEASEKV_BIN, NodeProcess, freePorts, tailFile } from './proc.ts';
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
  readonly beforeStart?: (c: ProcessCluster) => Promise<void>;
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

export class ProcessCluster {
  readonly ids: readonly string[];
  protected readonly members = new Map<string, Member>();
  /** key `${from}>${to}` */
  protected readonly links = new Map<string, ProxyHandle>();
  private closed = false;

  /** Use start(). */
  constructor(
    readonly dir: string,
    protected readonly opts: ClusterOptions,
    ids: string[],
  ) {
    this.ids = ids;
  }

  static async start<C extends ProcessCluster>(
    this: new (dir: string, opts: ClusterOptions, ids: string[]) => C,
    opts: ClusterOptions = {},
  ): Promise<C> {
    const size = opts.size ?? 3;
    const total = size + (opts.spare ?? 0);
    if (!(Number.isInteger(size) && size >= 1 && total <= MAX_NODES))
      throw new RangeError(`cluster size (with spares) must be 1..${MAX_NODES}`);
    const dir = mkdtempSync(join(tmpdir(), `leasekv-itest-${opts.name ?? 'cluster'}-`));
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const all = Array.from({ length: total }, (_, i) => `n${i + 1}`);
    const c = new this(dir, opts, ids);
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

  protected member(id: string): Member {
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
      '--insecure',
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
