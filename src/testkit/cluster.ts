// The one process-cluster launcher of the tests and the benchmark: N real `leasekv serve` processes
// on free 127.0.0.1 ports, one data dir and one log per node in a folder, optionally one
// fault-injecting proxy per directed peer link (server/itest/harness.ts explains them). It waits
// for a leader, kills, terminates, pauses, resumes and restarts nodes, adds members, and `close()`
// kills every child. The `serve` command line is built in command(), on server/serve-args.ts; extra
// flags for every member (or per member) go in ClusterOptions.settings.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memberList, serveArgs, serveNodeEnv, SERVE_NODE_OPTIONS } from '../server/serve-args.ts';
import { startProxy, type ProxyHandle } from '../transport/proxy.ts';
import { assert } from '../util/assert.ts';
import type { CallResult, Endpoint } from './http.ts';
import { LEASEKV_BIN, NodeProcess, tailFile } from './proc.ts';
import { statusAt, waitForOneLeader, type StatusView } from './status.ts';
import { freePorts, releasePorts } from './wait.ts';
import { FAST_TIMING, timingSettings, type Settings, type StartHow, type Timing } from './cluster-options.ts';

export * from './cluster-options.ts';

export interface ClusterOptions {
  readonly size?: number;
  /** One proxy per directed peer link (partitions, latency). */
  readonly proxies?: boolean;
  /** Default FAST_TIMING; 'profile': the server's own defaults (what the benchmark measures). */
  readonly timing?: Partial<Timing> | 'profile';
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Part of the temp folder's name. */
  readonly name?: string;
  /** This folder (kept by close()) instead of a fresh temp folder. */
  readonly dir?: string;
  /** Members beyond `size` with ports and data dirs but not started (n4, n5, … for member changes). */
  readonly spare?: number;
  /** --cluster-token of every node (default itest). */
  readonly clusterToken?: string;
  /** --insecure (default true): plaintext client port and peer links; false with TLS settings. */
  readonly insecure?: boolean;
  /** The CA (PEM) that signed the members' client-port certificates: the cluster's own calls use HTTPS. */
  readonly clientCa?: string;
  /** More `serve` flags (name without --, see serve-args.ts) for every member, or per member. */
  readonly settings?: Settings | ((id: string) => Settings);
  /** Options for node itself, before the leasekv script (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** The script node runs (default bin/leasekv.mjs): e.g. a compiled build's cli/main.js. */
  readonly entry?: string;
  /**
   * Environment variables for every node, on top of the test's own environment without its
   * LEASEKV_* variables (so flags are the only configuration unless a caller passes some here).
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Runs once ports and data dirs are chosen (dirs not yet created), before any node starts (e.g. a restore). */
  readonly beforeStart?: (c: ProcessCluster) => Promise<void>;
  /** A command that runs node for `id` (e.g. nsenter into the member's own mount namespace). */
  readonly launcher?: (id: string) => readonly string[] | undefined;
}

const HOST = '127.0.0.1';
const MAX_NODES = 9;
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

type Ctor<C> = new (dir: string, opts: ClusterOptions, ids: string[]) => C;

export class ProcessCluster {
  readonly ids: readonly string[];
  protected readonly members = new Map<string, Member>();
  /** key `${from}>${to}` */
  protected readonly links = new Map<string, ProxyHandle>();
  /** Peer ports the others dial instead of a member's own (routePeer). */
  private readonly routes = new Map<string, number>();
  private closed = false;

  /** Use start() or plan(). */
  constructor(
    readonly dir: string,
    protected readonly opts: ClusterOptions,
    ids: string[],
  ) {
    this.ids = ids;
  }

  /**
   * The cluster's folder, ids, ports and data dirs, nothing started: for a caller that starts the
   * processes itself (command() gives each one's command line; close() removes the folder).
   */
  static async plan<C extends ProcessCluster>(this: Ctor<C>, opts: ClusterOptions = {}): Promise<C> {
    const size = opts.size ?? 3;
    const total = size + (opts.spare ?? 0);
    if (!(Number.isInteger(size) && size >= 1 && total <= MAX_NODES))
      throw new RangeError(`cluster size (with spares) must be 1..${MAX_NODES}`);
    if (opts.dir !== undefined) mkdirSync(opts.dir, { recursive: true });
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `leasekv-test-${opts.name ?? 'cluster'}-`));
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const c = new this(dir, opts, ids);
    try {
      const ports = await freePorts(2 * total, HOST); // at once: all distinct
      for (let i = 0; i < total; i++) c.addPlanned(`n${i + 1}`, ports[2 * i] as number, ports[2 * i + 1] as number);
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /** plan(), the proxies, beforeStart, then every member bootstrapped with --peers. */
  static async start<C extends ProcessCluster>(this: Ctor<C>, opts: ClusterOptions = {}): Promise<C> {
    const c = await (this as unknown as { plan: (o: ClusterOptions) => Promise<C> }).plan(opts);
    try {
      if (opts.proxies === true) {
        for (const from of c.ids) {
          for (const to of c.ids) {
            if (from === to) continue;
            c.links.set(
              `${from}>${to}`,
              await startProxy({
                listenHost: HOST,
                listenPort: 0,
                targetHost: HOST,
                targetPort: c.member(to).peerPort,
              }),
            );
          }
        }
      }
      await opts.beforeStart?.(c);
      for (const id of c.ids) c.startNode(id, { peers: c.ids });
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /** A member with fresh ports and a data dir in the folder, not started (e.g. a replacement). */
  async addMember(id: string): Promise<void> {
    const taken = new Set([...this.members.values()].flatMap((m) => [m.peerPort, m.clientPort]));
    const free = (await freePorts(2 + taken.size, HOST)).filter((p) => !taken.has(p));
    this.addPlanned(id, free[0] as number, free[1] as number);
  }

  private addPlanned(id: string, peerPort: number, clientPort: number): void {
    assert(!this.members.has(id), `member ${id} exists`);
    const logPath = join(this.dir, `${id}.log`);
    const m = { id, peerPort, clientPort, dataDir: join(this.dir, id), logPath, proc: null, starts: 0 };
    this.members.set(id, { ...m, stoppedByTest: false });
  }

  /** The others dial `id` at `port` (a proxy the caller runs) in the --peers lists built from now on. */
  routePeer(id: string, port: number): void {
    this.routes.set(id, port);
  }

  protected member(id: string): Member {
    const m = this.members.get(id);
    assert(m !== undefined, `no member ${id}`);
    return m;
  }

  /** `id`'s data dir (created by its first start). */
  dataDir(id: string): string {
    return this.member(id).dataDir;
  }

  /** The address `id`'s clients use. */
  clientAddr(id: string): string {
    return `${HOST}:${this.member(id).clientPort}`;
  }

  /** The port `id`'s clients use. */
  clientPort(id: string): number {
    return this.member(id).clientPort;
  }

  /** The port `id` listens on for its peers (behind its proxies or route, if any). */
  peerPort(id: string): number {
    return this.member(id).peerPort;
  }

  /** The address the other members dial `id` at (no proxies for members added later). */
  peerAddr(id: string): string {
    return `${HOST}:${this.member(id).peerPort}`;
  }

  /** Starts (or restarts, same ports and data dir) a node that is not running. See StartHow. */
  startNode(id: string, how: StartHow = {}): void {
    const m = this.member(id);
    if (this.closed) throw new Error('cluster is closed');
    assert(m.proc?.alive !== true, `${id} is already running`);
    m.starts++;
    m.stoppedByTest = how.expectExit === true;
    const pre = this.opts.launcher?.(id) ?? [];
    m.proc = NodeProcess.spawn({
      command: pre[0] ?? process.execPath,
      args: [...pre.slice(1), ...(pre.length > 0 ? [process.execPath] : []), ...this.command(id, how)],
      logPath: m.logPath,
      env: { ...serveNodeEnv(), ...this.opts.env },
    });
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

  /** The --peers list as `from` must dial: through the proxies when there are any. */
  private peersFor(from: string, ids: readonly string[]): string {
    return memberList(
      ids.map((to) => {
        const link = this.links.get(`${from}>${to}`);
        return [to, `${HOST}:${link?.port ?? this.routes.get(to) ?? this.member(to).peerPort}`];
      }),
    );
  }

  /** The command that starts `id` (node's arguments: nodeArgs, the leasekv bin, then `serve` and its flags). See StartHow. */
  command(id: string, how: StartHow = {}): string[] {
    const m = this.member(id);
    const o = this.opts;
    const peers = how.peers;
    return [
      ...SERVE_NODE_OPTIONS,
      ...(o.nodeArgs ?? []),
      o.entry ?? LEASEKV_BIN,
      ...serveArgs({
        insecure: o.insecure ?? true,
        id,
        dataDir: m.dataDir,
        listenPeer: `${HOST}:${m.peerPort}`,
        listenClient: `${HOST}:${m.clientPort}`,
        ...(peers === undefined
          ? {}
          : {
              peers: this.peersFor(id, peers),
              clientAddrs: memberList(peers.map((p) => [p, this.clientAddr(p)])),
            }),
        ...(how.join === undefined ? {} : { join: how.join.map((j) => this.clientAddr(j)) }),
        ...(how.peerRoutes === undefined ? {} : { peerRoutes: how.peerRoutes }),
        settings: {
          'cluster-token': o.clusterToken ?? 'itest',
          ...(o.timing === 'profile' ? {} : timingSettings({ ...FAST_TIMING, ...o.timing })),
          'log-level': o.logLevel ?? 'info',
          ...(typeof o.settings === 'function' ? o.settings(id) : o.settings),
        },
      }),
    ];
  }

  endpoint(id: string): Endpoint {
    const port = this.member(id).clientPort;
    return this.opts.clientCa === undefined ? { host: HOST, port } : { host: HOST, port, ca: this.opts.clientCa };
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

  status(id: string, timeoutMs = 1000): Promise<StatusView | CallResult> {
    return statusAt(this.endpoint(id), timeoutMs);
  }

  /**
   * Waits until exactly one of `among` (default: the running nodes) says LEADER and every one of
   * them names it as leader. Returns its id. The default bound only catches a cluster that cannot
   * elect: a first start of three tsx-run nodes took over 60 s at load 40-48 (session 14).
   */
  async waitForLeader(timeoutMs = 120_000, among?: readonly string[]): Promise<string> {
    const ids = among ?? this.liveIds();
    return waitForOneLeader(new Map(ids.map((id) => [id, this.endpoint(id)])), timeoutMs, () => this.crashed());
  }

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
    // Every node is gone: other test processes may have the ports again (ports.ts).
    releasePorts([...this.members.values()].flatMap((m) => [m.peerPort, m.clientPort]));
    if (!keep && this.opts.dir === undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}
