// The systems a benchmark drives: a leasekv cluster (started by the test kit's launcher,
// src/testkit/cluster.ts), an etcd cluster (Debian's etcd-server), and the bare node:http floor.
// Each runs as real processes on 127.0.0.1, with peer links through delay proxies (one proxy
// process per cluster) when --peer-delay-ms is set.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, killAndWait, postJson, sleep, spawnLogged, waitFor } from './procs.ts';
import type { RequestShape } from './load.ts';
import { ProcessCluster, type Settings } from '../testkit/cluster.ts';
import { REPO_ROOT } from '../testkit/proc.ts';

export type ReadMode = 'lease' | 'readindex' | 'stale';

export interface Member {
  readonly id: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** The process id while the member runs, else undefined. */
  readonly pid: number | undefined;
}

export interface Cluster {
  readonly name: string;
  readonly members: Member[];
  /** Client port of the current leader (waits for one). */
  leader(timeoutMs?: number): Promise<Member>;
  get(mode: ReadMode): (key: string) => RequestShape;
  put(key: string, value: string): RequestShape;
  /** True if this member answers a linearizable read / a write now. */
  probeRead(m: Member, timeoutMs: number): Promise<boolean>;
  probeWrite(m: Member, timeoutMs: number): Promise<boolean>;
  /** kill -9; resolves once the process is gone. */
  kill(m: Member): Promise<void>;
  /** SIGTERM and wait for the exit (kill -9 if it does not come in time). */
  terminate(m: Member): Promise<void>;
  /** Starts a stopped member again (same ports and data dir). */
  restart(m: Member): Promise<void>;
  stop(): Promise<void>;
}

interface ClusterOptions {
  readonly nodes: number;
  readonly peerDelayMs: number;
  readonly dir: string;
  readonly log: (line: string) => void;
}

async function startProxies(
  specs: { listenPort: number; targetPort: number; delayMs: number }[],
  logFile: string,
): Promise<ChildProcess | null> {
  if (specs.length === 0) return null;
  const child = spawnLogged(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src/bench/proxy-host.ts'), JSON.stringify(specs)],
    logFile,
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`proxy host exited (${code})`)));
  });
  return child;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** The leasekv nodes' own LEASEKV_* settings from the bench's environment (e.g. LEASEKV_API_THREAD). */
/** The script the bench's leasekv nodes run (main.ts sets a compiled build's); undefined: bin/leasekv.mjs. */
let nodeEntry: string | undefined;
export function setLeasekvEntry(entry: string | undefined): void {
  nodeEntry = entry;
}

function leasekvEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('LEASEKV_') && v !== undefined) env[k] = v;
  return env;
}

export interface LeasekvCluster extends Cluster {
  /** A member with fresh ports and a data dir, not started and not in `members` (for a MemberAdd). */
  plan(id: string): Promise<Member>;
  /** Starts a planned member with --join through the running ones; resolves once it answers. */
  join(m: Member): Promise<void>;
}

/**
 * A leasekv cluster of `nodes` processes started by the test kit's launcher (src/testkit/cluster.ts)
 * with the server's own timings; with a peer delay, every member's inbound peer link goes through
 * the bench's proxy process (the others dial the proxy, which forwards to the member after the delay).
 */
export async function startLeasekv(
  o: ClusterOptions & {
    leaseReads: boolean;
    /** More `serve` flags (name without --, see serve-args.ts), e.g. auth; per member (TLS files). */
    settings?: Settings | ((id: string) => Settings);
    /** The CA (PEM) of the members' client-port certificates when they serve TLS (the launcher's calls use it). */
    clientCa?: string;
    logLevel?: 'info' | 'warn';
    /** Options for node itself, before the script (e.g. --cpu-prof). */
    nodeArgs?: readonly string[];
  },
): Promise<LeasekvCluster> {
  let proxies: ChildProcess | null = null;
  const pc = await ProcessCluster.start({
    size: o.nodes,
    dir: o.dir,
    timing: 'profile',
    logLevel: o.logLevel ?? 'warn',
    clusterToken: 'leasekv-bench',
    settings: (id) => ({
      'lease-reads': o.leaseReads,
      ...(typeof o.settings === 'function' ? o.settings(id) : o.settings),
    }),
    ...(o.clientCa === undefined ? {} : { clientCa: o.clientCa }),
    env: leasekvEnv(),
    ...(o.nodeArgs === undefined ? {} : { nodeArgs: o.nodeArgs }),
    ...(nodeEntry === undefined ? {} : { entry: nodeEntry }),
    beforeStart: async (c) => {
      if (o.peerDelayMs <= 0) return;
      const ports = await freePorts(c.ids.length);
      const specs = c.ids.map((id, i) => ({
        listenPort: ports[i] as number,
        targetPort: c.peerPort(id),
        delayMs: o.peerDelayMs,
      }));
      proxies = await startProxies(specs, join(o.dir, 'proxies.log'));
      c.ids.forEach((id, i) => c.routePeer(id, ports[i] as number));
    },
  });
  const view = (id: string): Member => ({
    id,
    clientPort: pc.clientPort(id),
    peerPort: pc.peerPort(id),
    dataDir: pc.dataDir(id),
    get pid() {
      return pc.alive(id) ? pc.pid(id) : undefined;
    },
  });
  const answers = (m: Member, timeoutMs: number): Promise<true> =>
    waitFor(`${m.id} to answer`, timeoutMs, async () => 'role' in (await pc.status(m.id, 500)));
  const members = pc.ids.map(view);
  const cluster: LeasekvCluster = {
    name: 'leasekv',
    members,
    async leader(timeoutMs = 30_000) {
      return waitFor('a leasekv leader', timeoutMs, async () => {
        for (const m of members) {
          if (m.pid === undefined) continue;
          const st = await pc.status(m.id);
          if ('role' in st && st.role === 'LEADER') return m;
        }
        return undefined;
      });
    },
    get: (mode) => (key) => ({
      path: '/leasekv.v1.KV/Get',
      body: mode === 'stale' ? `{"key":"${key}","consistency":"STALE"}` : `{"key":"${key}"}`,
    }),
    put: (key, value) => ({ path: '/leasekv.v1.KV/Put', body: `{"key":"${key}","value":"${value}"}` }),
    async probeRead(m, timeoutMs) {
      return (await postJson(m.clientPort, '/leasekv.v1.KV/Get', { key: 'probe' }, timeoutMs)).status === 200;
    },
    async probeWrite(m, timeoutMs) {
      return (
        (await postJson(m.clientPort, '/leasekv.v1.KV/Put', { key: 'probe', value: 'x' }, timeoutMs)).status === 200
      );
    },
    kill: (m) => pc.kill(m.id),
    terminate: (m) => pc.terminate(m.id).catch(() => pc.kill(m.id)),
    async restart(m) {
      pc.startNode(m.id);
      await answers(m, 60_000);
    },
    async plan(id) {
      await pc.addMember(id);
      return view(id);
    },
    async join(m) {
      pc.startNode(m.id, { join: pc.liveIds() });
      await answers(m, 60_000);
    },
    async stop() {
      // SIGTERM first: a node started with --cpu-prof writes its profile on a graceful exit only.
      await Promise.allSettled(pc.liveIds().map((id) => pc.terminate(id)));
      await pc.close();
      if (proxies !== null) await killAndWait(proxies, 'SIGTERM');
    },
  };
  try {
    await cluster.leader(60_000);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/**
 * Replaces leasekv member `old` (stopped, its disk gone) the way an operator does (README "Adding,
 * replacing and removing members"): MemberRemove, MemberAdd of a new id on new ports, and a new
 * process started with --join. Returns the new member, which takes `old`'s place in c.members.
 */
export async function replaceLeasekvMember(c: LeasekvCluster, old: Member): Promise<Member> {
  const change = async (method: string, body: object, done: RegExp): Promise<void> => {
    await waitFor(`${method} ${JSON.stringify(body)}`, 60_000, async () => {
      const r = await postJson((await c.leader()).clientPort, `/leasekv.v1.Cluster/${method}`, body, 10_000).catch(
        () => null,
      );
      return r !== null && (r.status === 200 || done.test(JSON.stringify(r.body)));
    });
  };
  const fresh = await c.plan(`${old.id}r`);
  await change('MemberRemove', { id: old.id }, /unknown-member|removed-id/);
  await change(
    'MemberAdd',
    { id: fresh.id, peerAddr: `127.0.0.1:${fresh.peerPort}`, clientAddr: `127.0.0.1:${fresh.clientPort}` },
    /already-member/,
  );
  c.members.splice(c.members.indexOf(old), 1, fresh);
  await c.join(fresh);
  return fresh;
}

export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startEtcd(o: ClusterOptions): Promise<Cluster> {
  mkdirSync(o.dir, { recursive: true });
  const ports = await freePorts(o.nodes * 3);
  const ids = Array.from({ length: o.nodes }, (_, i) => `e${i + 1}`);
  const peerPort = (i: number): number => ports[i * 3] as number;
  const clientPort = (i: number): number => ports[i * 3 + 1] as number;
  const dialPort = (i: number): number => (o.peerDelayMs > 0 ? (ports[i * 3 + 2] as number) : peerPort(i));
  const initial = ids.map((id, i) => `${id}=http://127.0.0.1:${dialPort(i)}`).join(',');
  const proxies = await startProxies(
    o.peerDelayMs > 0
      ? ids.map((_, i) => ({ listenPort: dialPort(i), targetPort: peerPort(i), delayMs: o.peerDelayMs }))
      : [],
    join(o.dir, 'etcd-proxies.log'),
  );
  const procs = new Map<string, ChildProcess>();
  const argsOf = new Map<string, string[]>();
  const members: Member[] = ids.map((id, i) => {
    const dataDir = join(o.dir, id);
    rmSync(dataDir, { recursive: true, force: true });
    const args = [
      '--name',
      id,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${clientPort(i)}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${clientPort(i)}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort(i)}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${dialPort(i)}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      'leasekv-bench',
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--logger',
      'zap',
      '--log-level',
      'warn',
    ];
    argsOf.set(id, args);
    return {
      id,
      clientPort: clientPort(i),
      peerPort: peerPort(i),
      dataDir,
      get pid() {
        return procs.get(id)?.pid;
      },
    };
  });
  const spawnMember = (m: Member): void => {
    const child = spawnLogged('etcd', argsOf.get(m.id) ?? [], join(o.dir, `${m.id}.log`));
    procs.set(m.id, child);
    child.once('exit', () => {
      if (procs.get(m.id) === child) procs.delete(m.id);
    });
  };
  const stopMember = async (m: Member, signal: NodeJS.Signals): Promise<void> => {
    const child = procs.get(m.id);
    if (child !== undefined) await killAndWait(child, signal);
    procs.delete(m.id);
  };
  for (const m of members) spawnMember(m);
  const cluster: Cluster = {
    name: 'etcd',
    members,
    async leader(timeoutMs = 30_000) {
      let found: Member | null = null;
      await waitFor('an etcd leader', timeoutMs, async () => {
        for (const m of members) {
          if (m.pid === undefined) continue;
          const r = await postJson(m.clientPort, '/v3/maintenance/status', {}, 1000).catch(() => null);
          const b = r?.body as { header?: { member_id?: string }; leader?: string } | undefined;
          if (b?.leader !== undefined && b.leader !== '0' && b.header?.member_id === b.leader) {
            found = m;
            return true;
          }
        }
        return false;
      });
      return found as unknown as Member;
    },
    get: (mode) => (key) => ({
      path: '/v3/kv/range',
      body: mode === 'stale' ? `{"key":"${b64(key)}","serializable":true}` : `{"key":"${b64(key)}"}`,
    }),
    put: (key, value) => ({ path: '/v3/kv/put', body: `{"key":"${b64(key)}","value":"${b64(value)}"}` }),
    async probeRead(m, timeoutMs) {
      return (await postJson(m.clientPort, '/v3/kv/range', { key: b64('probe') }, timeoutMs)).status === 200;
    },
    async probeWrite(m, timeoutMs) {
      return (
        (await postJson(m.clientPort, '/v3/kv/put', { key: b64('probe'), value: b64('x') }, timeoutMs)).status === 200
      );
    },
    kill: (m) => stopMember(m, 'SIGKILL'),
    terminate: (m) => stopMember(m, 'SIGTERM'),
    async restart(m) {
      spawnMember(m);
      await sleep(500);
    },
    async stop() {
      await Promise.all(members.map((m) => stopMember(m, 'SIGTERM')));
      if (proxies !== null) await killAndWait(proxies, 'SIGTERM');
    },
  };
  await cluster.leader(60_000);
  return cluster;
}

export async function startFloor(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawnLogged(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src/bench/floor-server.ts')],
    join(dir, 'floor.log'),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('floor server exited')));
  });
  return { port, stop: () => killAndWait(child, 'SIGTERM') };
}
