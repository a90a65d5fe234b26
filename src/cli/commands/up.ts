// leasekv up: a local cluster in one command (issue 5). Spawns N `leasekv serve` processes on
// loopback with data in DATA_DIR/nK (so a second run resumes the same data), prefixes their output
// with their id, prints how to use the cluster, and stops them cleanly on Ctrl-C / SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LeasekvClient } from '../../client/index.ts';
import { startSupervisor, type Supervisor } from '../supervisor.ts';
import { DEFAULT_ENDPOINTS } from './common.ts';
import { readIdentity } from '../../storage/identity.ts';

const USAGE = `usage: leasekv up [--nodes 3|5] [--data-dir ./data] [--base-port 7001]

Starts a local cluster of N nodes on 127.0.0.1 and keeps it running until Ctrl-C.
Node K (n1..nN) serves clients on BASE+K-1 and peers on BASE+100+K-1 and keeps its data in
DATA_DIR/nK; run the same command again to resume the same data. A folder that holds a cluster of
another size is refused (its members are recorded in the data dirs).
  --nodes N        3 (default) or 5
  --data-dir DIR   default ./data
  --base-port P    first client port (default 7001; peer ports start at P+100)
  -h, --help       this help`;

/** How long stopping nodes may take before they are killed. */
const STOP_TIMEOUT_MS = 10_000;
/** How long to wait for a leader before printing the banner anyway. */
const LEADER_WAIT_MS = 15_000;

export interface NodePlan {
  readonly id: string;
  readonly clientAddr: string;
  readonly peerAddr: string;
  readonly dataDir: string;
}

export function plan(nodes: number, dataDir: string, basePort: number): NodePlan[] {
  return Array.from({ length: nodes }, (_, i) => ({
    id: `n${i + 1}`,
    clientAddr: `127.0.0.1:${basePort + i}`,
    peerAddr: `127.0.0.1:${basePort + 100 + i}`,
    dataDir: resolve(dataDir, `n${i + 1}`),
  }));
}

export function serveArgs(p: NodePlan, all: readonly NodePlan[]): string[] {
  return [
    'serve',
    '--id', p.id,
    '--data-dir', p.dataDir,
    '--listen-peer', p.peerAddr,
    '--listen-client', p.clientAddr,
    '--peers', all.map((n) => `${n.id}=${n.peerAddr}`).join(','),
    '--client-addrs', all.map((n) => `${n.id}=${n.clientAddr}`).join(','),
  ];
}

/**
 * Why `up --nodes N` must not run on this folder: it holds a cluster of another size (its members
 * are recorded in each data dir, docs/storage.md "Cluster identity"), or null.
 */
export function recordedSizeProblem(nodes: readonly NodePlan[], dataDir: string): string | null {
  for (const n of nodes) {
    let rec;
    try {
      rec = readIdentity(n.dataDir);
    } catch (e) {
      return (e as Error).message;
    }
    if (rec === null) continue;
    const ids = rec.initialMembers.map((m) => m.id);
    if (ids.length === nodes.length) continue;
    return `${resolve(dataDir)} holds a ${ids.length}-node cluster (${ids.join(', ')}), not ${nodes.length} nodes: run \`leasekv up --nodes ${ids.length}${dataDir === './data' ? '' : ` --data-dir ${dataDir}`}\` to resume it, or use another --data-dir for a new ${nodes.length}-node cluster. (Starting it with another size would make the nodes refuse their data; a running cluster changes size with \`leasekv member add\` and \`leasekv member remove\`.)`;
  }
  return null;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function parse(argv: string[]): { nodes: number; dataDir: string; basePort: number } | string {
  let v;
  try {
    v = parseArgs({ args: argv, options: { nodes: { type: 'string' }, 'data-dir': { type: 'string' }, 'base-port': { type: 'string' } }, strict: true }).values;
  } catch (err) {
    return (err as Error).message;
  }
  const nodes = Number(v.nodes ?? '3');
  if (nodes !== 3 && nodes !== 5) return `--nodes must be 3 or 5, got '${v.nodes}'`;
  const basePort = Number(v['base-port'] ?? '7001');
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 100 + nodes > 65535) return `--base-port must be an integer in 1024..${65535 - 100 - nodes}`;
  return { nodes, dataDir: v['data-dir'] ?? './data', basePort };
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const opts = parse(argv);
  if (typeof opts === 'string') {
    console.error(`leasekv up: ${opts}\n\n${USAGE}`);
    return 2;
  }
  const nodes = plan(opts.nodes, opts.dataDir, opts.basePort);
  for (const n of nodes) {
    for (const addr of [n.clientAddr, n.peerAddr]) {
      const port = Number(addr.split(':')[1]);
      if (!(await portFree(port))) {
        console.error(`leasekv up: port ${port} (${n.id}) is already in use — is another cluster running? Stop it, or pick other ports with --base-port.`);
        return 1;
      }
    }
  }
  const sizeProblem = recordedSizeProblem(nodes, opts.dataDir);
  if (sizeProblem !== null) {
    console.error(`leasekv up: ${sizeProblem}`);
    return 1;
  }
  for (const n of nodes) mkdirSync(n.dataDir, { recursive: true });
  // The command to start a node; a test may substitute a stand-in (LEASEKV_UP_SERVE=script.ts).
  const bin = process.env['LEASEKV_UP_SERVE'] ?? fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
  const binArgs = process.env['LEASEKV_UP_SERVE'] === undefined ? [] : ['--import', 'tsx'];
  const children = new Map<string, ChildProcess>();
  // Set below: ends `up` when every node has exited on its own.
  let allGone = (): void => {};
  // The supervisor (issue 6) starts the nodes, puts a fault proxy on every peer link, and serves
  // the dashboard's kill/restart/pause/isolate controls on 127.0.0.1:BASE-1.
  let supervisor: Supervisor;
  try {
    supervisor = await startSupervisor({
      nodes,
      controlPort: opts.basePort - 1,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      spawn(id, peers, env) {
        const n = nodes.find((m) => m.id === id) as NodePlan;
        const args = serveArgs(n, nodes).map((a, i, all) => (all[i - 1] === '--peers' ? peers : a));
        // Own process group: a terminal's Ctrl-C reaches only us, and we stop each node once, gracefully.
        const child = spawn(process.execPath, [...binArgs, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
        children.set(id, child);
        prefix(child, id);
        child.on('exit', (code, sig) => {
          if (children.get(id) === child) children.delete(id);
          console.log(`[up] ${id} exited (${sig ?? `code ${code}`})`);
          allGone();
        });
        return child;
      },
    });
  } catch (err) {
    console.error(`leasekv up: could not start the supervisor on 127.0.0.1:${opts.basePort - 1}: ${(err as Error).message}`);
    return 1;
  }
  // Last resort if we die without stopping them (e.g. an exception): do not leave nodes behind.
  process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      console.log(`[up] ${sig}: stopping ${children.size} node(s) (SIGTERM, then SIGKILL after ${STOP_TIMEOUT_MS / 1000} s)`);
      children.forEach((c) => {
        c.kill('SIGCONT'); // a paused node cannot handle SIGTERM
        c.kill('SIGTERM');
      });
      const killer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), STOP_TIMEOUT_MS);
      const check = setInterval(() => {
        if (children.size > 0) return;
        clearInterval(check);
        clearTimeout(killer);
        console.log(`[up] stopped; data kept in ${resolve(opts.dataDir)} (run the same command to resume)`);
        void supervisor.close().finally(() => resolveExit(0));
      }, 50);
    };
    allGone = () => {
      // Nodes killed from the dashboard may be restarted from it: keep running for them.
      if (stopping || children.size > 0 || supervisor.states().some((st) => st.stoppedByControl)) return;
      console.error('[up] every node has exited; stopping (see their output above)');
      void supervisor.close().finally(() => resolveExit(1));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    void banner(nodes, opts.dataDir).catch(() => {});
  });
}

function prefix(child: ChildProcess, id: string): void {
  const tag = `[${id}] `;
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => out.write(`${tag}${humanLine(line)}\n`));
  }
}

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const QUIET_FIELDS = new Set(['level', 'time', 'node', 'msg', 'pid', 'hostname']);

/** A node's JSON log line as a person reads it: time, level, message, then the other fields. */
export function humanLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec['msg'] !== 'string') return line;
  const t = typeof rec['time'] === 'number' ? new Date(rec['time']).toISOString().slice(11, 23) : '';
  const extra = Object.entries(rec)
    .filter(([k]) => !QUIET_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${t} ${LEVELS[rec['level'] as number] ?? 'INFO '} ${rec['msg']}${extra === '' ? '' : `  (${extra})`}`;
}

async function banner(nodes: readonly NodePlan[], dataDir: string): Promise<void> {
  const endpoints = nodes.map((n) => n.clientAddr);
  const client = new LeasekvClient({ endpoints, deadlineMs: 2000 });
  let leader = '';
  const until = Date.now() + LEADER_WAIT_MS;
  try {
    while (leader === '' && Date.now() < until) {
      const all = await client.statusAll({ deadlineMs: 500 });
      leader = all.find((s) => s.status?.role === 'leader')?.status?.id ?? '';
      if (leader === '') await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await client.close();
  }
  const first = endpoints[0]!;
  const leaderAddr = nodes.find((n) => n.id === leader)?.clientAddr ?? first;
  // The CLI's default endpoints reach the first three nodes, and hints lead on from there.
  const isDefault = endpoints.slice(0, 3).join(',') === DEFAULT_ENDPOINTS;
  const ep = isDefault ? '' : ` --endpoints ${endpoints.join(',')}`;
  console.log(
    [
      '',
      `leasekv: ${nodes.length} nodes up${leader === '' ? ' (no leader yet)' : `, leader ${leader}`}; data in ${resolve(dataDir)}`,
      `  endpoints: ${endpoints.join(',')}`,
      `  try:       npx leasekv put greeting hello${ep}`,
      `             npx leasekv get greeting${ep}`,
      `             npx leasekv status${ep}`,
      `             curl -H 'content-type: application/json' -d '{"key":"greeting"}' http://${leaderAddr}/leasekv.v1.KV/Get   # the leader; a follower answers "not leader" and names it`,
      `  dashboard: http://${first}/`,
      '  Ctrl-C stops the cluster; run the same command again to resume it.',
      '',
    ].join('\n'),
  );
}
