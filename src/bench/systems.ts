// The systems a benchmark drives: a leasekv cluster, an etcd cluster (Debian's etcd-server), and the
// bare node:http floor. Each runs as real processes on 127.0.0.1, with peer links through delay
// proxies (one proxy process per cluster) when --peer-delay-ms is set.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, killAndWait, postJson, sleep, spawnLogged, waitFor } from './procs.ts';
import type { RequestShape } from './load.ts';
import { memberList, serveArgs } from '../server/serve-args.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'leasekv.mjs');

export type ReadMode = 'lease' | 'readindex' | 'stale';

export interface Member {
  readonly id: string;
  readonly clientPort: number;
  readonly peerPort: number;
  proc: ChildProcess | null;
  readonly args: readonly string[];
  readonly dataDir: string;
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
    ['--import', 'tsx', join(ROOT, 'src/bench/proxy-host.ts'), JSON.stringify(specs)],
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

function spawnMember(m: Member, cmd: string, logFile: string): void {
  m.proc = spawnLogged(cmd, m.args, logFile);
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export async function startLeasekv(
  o: ClusterOptions & {
    leaseReads: boolean;
    extraArgs?: readonly string[];
    /** Options for node itself, before the script (e.g. --cpu-prof). */
    nodeArgs?: readonly string[];
  },
): Promise<Cluster> {
  mkdirSync(o.dir, { recursive: true });
  const ports = await freePorts(o.nodes * 3);
  const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const peerPort = (i: number): number => ports[i * 3] as number;
  const clientPort = (i: number): number => ports[i * 3 + 1] as number;
  const dialPort = (i: number): number => (o.peerDelayMs > 0 ? (ports[i * 3 + 2] as number) : peerPort(i));
  const peers = memberList(ids.map((id, i) => [id, `127.0.0.1:${dialPort(i)}`]));
  const clients = memberList(ids.map((id, i) => [id, `127.0.0.1:${clientPort(i)}`]));
  const proxies = await startProxies(
    o.peerDelayMs > 0
      ? ids.map((_, i) => ({ listenPort: dialPort(i), targetPort: peerPort(i), delayMs: o.peerDelayMs }))
      : [],
    join(o.dir, 'proxies.log'),
  );
  const members: Member[] = ids.map((id, i) => {
    const dataDir = join(o.dir, id);
    mkdirSync(dataDir, { recursive: true });
    const args = [
      ...(o.nodeArgs ?? []),
      BIN,
      ...serveArgs({
        insecure: true,
        id,
        dataDir,
        listenPeer: `127.0.0.1:${peerPort(i)}`,
        listenClient: `127.0.0.1:${clientPort(i)}`,
        peers,
        clientAddrs: clients,
        settings: { 'log-level': 'warn', 'lease-reads': o.leaseReads },
      }),
      ...(o.extraArgs ?? []),
    ];
    return { id, clientPort: clientPort(i), peerPort: peerPort(i), proc: null, args, dataDir };
  });
  for (const m of members) spawnMember(m, process.execPath, join(o.dir, `${m.id}.log`));
  const status = async (m: Member): Promise<{ role?: string; appliedIndex?: string; commitIndex?: string }> =>
    (await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 1000)).body as { role?: string };
  const cluster: Cluster = {
    name: 'leasekv',
    members,
    async leader(timeoutMs = 30_000) {
      let found: Member | null = null;
      await waitFor('a leasekv leader', timeoutMs, async () => {
        for (const m of members) {
          if (m.proc === null) continue;
          const st = await status(m).catch(() => ({}) as { role?: string });
          if (st.role === 'LEADER') {
            found = m;
            return true;
          }
        }
        return false;
      });
      return found as unknown as Member;
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
    async restart(m) {
      spawnMember(m, process.execPath, join(o.dir, `${m.id}.log`));
      await waitFor(
        `${m.id} to answer`,
        60_000,
        async () => (await postJson(m.clientPort, '/leasekv.v1.KV/Status', {}, 500)).status === 200,
      );
    },
    async stop() {
      await Promise.all(members.map(async (m) => (m.proc === null ? undefined : killAndWait(m.proc, 'SIGTERM'))));
      if (proxies !== null) await killAndWait(proxies, 'SIGTERM');
    },
  };
  await cluster.leader(60_000);
  return cluster;
}

/** The member's own flags and its way in: what joinMemberArgs does not copy from the template. */
const OWN_FLAGS = ['--id', '--data-dir', '--listen-peer', '--listen-client', '--peers', '--client-addrs', '--insecure'];

/** `serve` arguments for a new member joining through `endpoints`, with `template`'s other options. */
export function joinMemberArgs(
  template: Member,
  o: { id: string; dataDir: string; peerPort: number; clientPort: number; endpoints: readonly string[] },
): string[] {
  const at = template.args.indexOf('serve');
  const rest = template.args
    .slice(at + 1)
    .filter(
      (a, i, all) => !OWN_FLAGS.includes(a) && (all[i - 1] === '--insecure' || !OWN_FLAGS.includes(all[i - 1] ?? '')),
    );
  return [
    ...template.args.slice(0, at),
    ...serveArgs({
      insecure: template.args.includes('--insecure'),
      id: o.id,
      dataDir: o.dataDir,
      listenPeer: `127.0.0.1:${o.peerPort}`,
      listenClient: `127.0.0.1:${o.clientPort}`,
      join: o.endpoints,
    }),
    ...rest,
  ];
}

/**
 * Replaces leasekv member `old` (stopped, its disk gone) the way an operator does (README "Adding,
 * replacing and removing members"): MemberRemove, MemberAdd of a new id on new ports, and a new
 * process started with --join. Returns the new member, which takes `old`'s place in c.members.
 */
export async function replaceLeasekvMember(c: Cluster, old: Member, dir: string): Promise<Member> {
  const change = async (method: string, body: object, done: RegExp): Promise<void> => {
    await waitFor(`${method} ${JSON.stringify(body)}`, 60_000, async () => {
      const r = await postJson((await c.leader()).clientPort, `/leasekv.v1.Cluster/${method}`, body, 10_000).catch(
        () => null,
      );
      return r !== null && (r.status === 200 || done.test(JSON.stringify(r.body)));
    });
  };
  const id = `${old.id}r`;
  const [peerPort, clientPort] = (await freePorts(2)) as [number, number];
  await change('MemberRemove', { id: old.id }, /unknown-member|removed-id/);
  await change(
    'MemberAdd',
    { id, peerAddr: `127.0.0.1:${peerPort}`, clientAddr: `127.0.0.1:${clientPort}` },
    /already-member/,
  );
  const dataDir = join(dir, id);
  mkdirSync(dataDir, { recursive: true });
  const endpoints = c.members.filter((m) => m !== old).map((m) => `127.0.0.1:${m.clientPort}`);
  const fresh: Member = {
    id,
    clientPort,
    peerPort,
    proc: null,
    args: joinMemberArgs(old, { id, dataDir, peerPort, clientPort, endpoints }),
    dataDir,
  };
  spawnMember(fresh, process.execPath, `${dataDir}.log`);
  c.members.splice(c.members.indexOf(old), 1, fresh);
  await waitFor(
    `${id} to answer`,
    60_000,
    async () =>
      (await postJson(clientPort, '/leasekv.v1.KV/Status', {}, 500).catch(() => ({ status: 0 }))).status === 200,
  );
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
    return { id, clientPort: clientPort(i), peerPort: peerPort(i), proc: null, args, dataDir };
  });
  for (const m of members) spawnMember(m, 'etcd', join(o.dir, `${m.id}.log`));
  const cluster: Cluster = {
    name: 'etcd',
    members,
    async leader(timeoutMs = 30_000) {
      let found: Member | null = null;
      await waitFor('an etcd leader', timeoutMs, async () => {
        for (const m of members) {
          if (m.proc === null) continue;
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
    async restart(m) {
      spawnMember(m, 'etcd', join(o.dir, `${m.id}.log`));
      await sleep(500);
    },
    async stop() {
      await Promise.all(members.map(async (m) => (m.proc === null ? undefined : killAndWait(m.proc, 'SIGTERM'))));
      if (proxies !== null) await killAndWait(proxies, 'SIGTERM');
    },
  };
  await cluster.leader(60_000);
  return cluster;
}

export async function startFloor(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawnLogged(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/bench/floor-server.ts')],
    join(dir, 'floor.log'),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', () => reject(new Error('floor server exited')));
  });
  return { port, stop: () => killAndWait(child, 'SIGTERM') };
}
