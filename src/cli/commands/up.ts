// leasekv up: a local cluster in one command (issue 5). Spawns N `leasekv serve` processes on
// loopback with data in DATA_DIR/nK (so a second run resumes the same data), prefixes their output
// with their id, prints how to use the cluster, and stops them cleanly on Ctrl-C / SIGTERM. The
// port block and the checks before starting are in up-plan.ts; the output and banner in up-output.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterMembership } from '../membership.ts';
import { ensureLocalCerts, serveTlsArgs } from '../local-ca.ts';
import { recordLocalCluster } from '../tls-settings.ts';
import { startSupervisor, type Supervisor } from '../supervisor.ts';
import { parseFlags, UsageError } from './common.ts';
import { readIdentity } from '../../storage/identity.ts';
import { makeDirs } from '../../storage/fs.ts';
import { serveNodeEnv, SERVE_NODE_OPTIONS } from '../../server/serve-args.ts';
import { banner, prefix } from './up-output.ts';
import { upMembers } from './up-members.ts';
import { EXIT_MEMBER_REMOVED } from '../../server/removal.ts';
import { ensureRootPassword } from './credentials.ts';
import {
  blockPorts,
  joinArgs,
  MAX_MEMBERS,
  nextMember,
  PEER_OFFSET,
  plan,
  portBlock,
  portFree,
  PROXY_OFFSET,
  recordedSizeProblem,
  restartArgs,
  serveArgs,
  type NodePlan,
} from './up-plan.ts';

const USAGE = `usage: leasekv up [--nodes 3|5] [--data-dir ./data] [--base-port 7001]

Starts a local cluster of N nodes on 127.0.0.1 and keeps it running until Ctrl-C.
Node K (n1..nN) keeps its data in DATA_DIR/nK; run the same command again to resume the same data.
A folder that holds a cluster of another size, or one started with another --base-port, is refused:
its members are recorded in the data dirs, and a node with data starts from them (not from --peers).
Every port it opens is in the block P-1 .. P+${PROXY_OFFSET}+N(N-1)-1 (P = --base-port), all on 127.0.0.1:
  P-1                        the supervisor's control API (the dashboard's kill/restart/isolate)
  P .. P+N-1                 client API and dashboard of n1..nN (node K on P+K-1)
  P+${PEER_OFFSET} .. P+${PEER_OFFSET}+N-1         peer listeners of n1..nN
  P+${PROXY_OFFSET} .. P+${PROXY_OFFSET}+N(N-1)-1    fault proxies, one per directed pair: node i (0-based) reaches
                             node j through P+${PROXY_OFFSET}+i(N-1)+(j<i ? j : j-1)
With the default P=7001 and 3 nodes: 7000, 7001-7003, 7101-7103, 7201-7206 (5 nodes: up to 7220).
  --nodes N        3 (default) or 5
  --data-dir DIR   default ./data
  --base-port P    first client port (default 7001; P-1 >= 1024 and the block must end by 65535)
  -h, --help       this help
The dashboard's "add member" adds n4, n5 (up to 5 members in all; an id never comes back) on
client port P+K-1 and peer port P+${PEER_OFFSET}+K-1, without a fault proxy; its "remove" removes a member
and stops its process. A member that learns it was removed exits (code 3) and is not restarted.
A rerun of \`up\` starts the cluster as it is now: it reads the committed configuration in the data
dirs (the one that has committed the most) and starts its members whose data is in DATA_DIR/nK —
added ones too (from the dashboard, or \`leasekv member add\` with a \`serve --join\` on DATA_DIR/nK) —
but not the removed ones; it says which members it cannot start (data elsewhere).`;

/** How long stopping nodes may take before they are killed. */
const STOP_TIMEOUT_MS = 10_000;

function parse(argv: string[]): { nodes: number; dataDir: string; basePort: number } {
  const { values: v, positionals } = parseFlags(argv, {
    nodes: { type: 'string' },
    'data-dir': { type: 'string' },
    'base-port': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]!}'`);
  const nodes = Number(v.nodes ?? '3');
  if (nodes !== 3 && nodes !== 5) throw new UsageError(`--nodes must be 3 or 5, got '${v.nodes}'`);
  const basePort = Number(v['base-port'] ?? '7001');
  const lo = 1025;
  const hi = 65535 - portBlock(nodes, 0).last;
  if (!Number.isInteger(basePort) || basePort < lo || basePort > hi) {
    throw new UsageError(
      `--base-port must be an integer in ${lo}..${hi} for ${nodes} nodes: the ports P-1 .. P+${portBlock(nodes, 0).last} must lie in 1024..65535 (leasekv up --help shows the layout)`,
    );
  }
  return { nodes, dataDir: v['data-dir'] ?? './data', basePort };
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`leasekv up: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const nodes = plan(opts.nodes, opts.dataDir, opts.basePort);
  const block = portBlock(opts.nodes, opts.basePort);
  for (const [port, what] of blockPorts(
    nodes.map((n) => n.id),
    block,
  )) {
    if (!(await portFree(port))) {
      console.error(
        `leasekv up: port ${port} (${what}) is already in use — is another cluster running? Stop it, or pick other ports with --base-port (this cluster uses ${block.first}..${block.last}).`,
      );
      return 1;
    }
  }
  const sizeProblem = recordedSizeProblem(nodes, opts.dataDir);
  if (sizeProblem !== null) {
    console.error(`leasekv up: ${sizeProblem}`);
    return 1;
  }
  // The cluster as it is now (up-members.ts): members added since, bootstrap members removed since.
  const recorded = upMembers(nodes, opts.dataDir, opts.basePort);
  for (const line of recorded.notes) console.log(`[up] ${line}`);
  // One started by hand may still run: it is left as it is (its data dir is locked anyway).
  const startable: (typeof recorded.added)[number][] = [];
  for (const a of recorded.added) {
    const busy = [];
    for (const addr of [a.plan.clientAddr, a.plan.peerAddr])
      if (!(await portFree(Number(addr.slice(addr.lastIndexOf(':') + 1))))) busy.push(addr);
    if (busy.length === 0) startable.push(a);
    else
      console.log(
        `[up] ${a.plan.id}'s ${busy.join(' and ')} ${busy.length === 1 ? 'is' : 'are'} in use — running already (started by hand?): not started; stop it and run up again to have up run it`,
      );
  }
  const now = { ...recorded, added: startable };
  const running = [...nodes.filter((n) => !now.removed.includes(n.id)), ...now.added.map((a) => a.plan)];
  for (const n of nodes) makeDirs(n.dataDir);
  // Auth on by default (issue 15): the root password lives in the data folder (mode 0600), where
  // the CLI finds it (credentials.ts), and the nodes create the root user from it.
  const rootFile = ensureRootPassword(opts.dataDir);
  const root = { user: 'root', password: readFileSync(rootFile, 'utf8').trim() };
  // Secure by default (issue 15): a local CA and certificates in DATA_DIR/tls, recorded for the CLI.
  const memberIds = Array.from({ length: MAX_MEMBERS }, (_, k) => `n${k + 1}`);
  const { certs, made } = await ensureLocalCerts(resolve(opts.dataDir), memberIds);
  console.log(
    made.length === 0
      ? `[up] TLS: reusing the local CA and certificates in ${certs.dir}`
      : `[up] TLS: made ${made.join(', ')} in ${certs.dir}`,
  );
  const cliFiles = { cacert: certs.ca, cert: certs.client.cert, key: certs.client.key };
  recordLocalCluster(
    memberIds.map((_, k) => `127.0.0.1:${opts.basePort + k}`),
    cliFiles,
    process.env,
    running.map((n) => n.clientAddr),
  );
  const tls = {
    ca: readFileSync(certs.ca),
    cert: readFileSync(certs.client.cert),
    key: readFileSync(certs.client.key),
  };
  // The command to start a node; a test may substitute a stand-in (LEASEKV_UP_SERVE=script.ts).
  const bin = process.env['LEASEKV_UP_SERVE'] ?? fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
  const binArgs = [
    ...SERVE_NODE_OPTIONS,
    ...(process.env['LEASEKV_UP_SERVE'] === undefined ? [] : ['--import', 'tsx']),
  ];
  const children = new Map<string, ChildProcess>();
  // Members added from the dashboard (issue 12) or since the cluster was made, by id; `join`: not
  // started yet (no data), so started with --join.
  const added = new Map<string, { plan: NodePlan; join: boolean }>(now.added.map((a) => [a.plan.id, a]));
  const startChild = (id: string, args: string[], env: Readonly<Record<string, string>>): ChildProcess => {
    // Own process group: a terminal's Ctrl-C reaches only us, and we stop each node once, gracefully.
    // The IPC channel is how a node learns that `up` has gone, even killed (serve-stop.ts): it then
    // stops instead of running on as an orphan. Nothing is sent on it; it holds neither process.
    const child = spawn(process.execPath, [...binArgs, bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
      env: { ...process.env, ...serveNodeEnv(), LEASEKV_AUTH: 'on', LEASEKV_ROOT_PASSWORD_FILE: rootFile, ...env },
    });
    child.channel?.unref();
    children.set(id, child);
    prefix(child, id);
    child.on('exit', (code, sig) => {
      if (children.get(id) === child) children.delete(id);
      console.log(
        `[up] ${id} exited (${sig ?? `code ${code}`}${code === EXIT_MEMBER_REMOVED ? ': it was removed from the cluster; not restarted' : ''})`,
      );
      allGone();
    });
    return child;
  };
  // Set below: ends `up` when every node has exited on its own.
  let allGone = (): void => {};
  // The supervisor (issue 6) starts the nodes, puts a fault proxy on every peer link, and serves
  // the dashboard's kill/restart/pause/isolate controls on 127.0.0.1:BASE-1.
  let supervisor: Supervisor;
  try {
    supervisor = await startSupervisor({
      nodes,
      controlPort: block.control,
      proxyBasePort: block.proxyBase,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      added: now.added.map((a) => a.plan),
      removed: now.removed,
      membership: clusterMembership(
        running.map((m) => m.clientAddr),
        (taken) => {
          const p = nextMember(taken, opts.dataDir, opts.basePort);
          makeDirs(p.dataDir);
          added.set(p.id, { plan: p, join: true });
          return p;
        },
        root,
        tls,
      ),
      spawn(id, routes, env) {
        const extra = added.get(id);
        if (extra !== undefined) {
          // Once it has data (it joined), its members are in its data dir: a restart needs no --join.
          const join = extra.join && readIdentity(extra.plan.dataDir) === null;
          const own = join
            ? joinArgs(
                extra.plan,
                running.map((m) => m.clientAddr),
              )
            : restartArgs(extra.plan);
          return startChild(id, [...own, ...serveTlsArgs(certs, id)], env);
        }
        const n = nodes.find((m) => m.id === id) as NodePlan;
        // --peers bootstraps: a node with data starts from the members recorded in its data dir
        // (they may have changed since, with leasekv member add/remove). --peers has the real peer
        // addresses (what `leasekv member list` shows); --peer-routes sends the node's own dials
        // through its fault proxies.
        const planned = [...serveArgs(n, nodes), '--peer-routes', routes, ...serveTlsArgs(certs, n.id)];
        const args =
          readIdentity(n.dataDir) === null
            ? planned
            : planned.filter(
                (_, i, all) =>
                  !['--peers', '--client-addrs'].includes(all[i] ?? '') &&
                  !['--peers', '--client-addrs'].includes(all[i - 1] ?? ''),
              );
        return startChild(id, args, env);
      },
    });
  } catch (err) {
    console.error(
      `leasekv up: could not start the supervisor on 127.0.0.1:${opts.basePort - 1}: ${(err as Error).message}`,
    );
    return 1;
  }
  // Last resort if we die without stopping them (e.g. an exception): do not leave nodes behind.
  process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      console.log(
        `[up] ${sig}: stopping ${children.size} node(s) (SIGTERM, then SIGKILL after ${STOP_TIMEOUT_MS / 1000} s)`,
      );
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
    void banner(running, opts.dataDir, root, tls, certs.ca).catch(() => {});
  });
}
