// The local cluster's supervisor (issue 6): owns the node processes that `leasekv up` starts and
// lets the dashboard kill, restart, pause and isolate them through a small control HTTP server on
// loopback.
//
// Isolation is real network isolation, not a flag inside the node: every directed pair of members
// (i dials j) goes through its own fault proxy (transport/proxy.ts, behind the gate of gated-proxy.ts:
// it listens only once the node behind it does, so that a first start logs no resets), because node i is started with
// --peer-routes saying it reaches j at the i→j proxy (its --peers, and so the members' addresses
// that `leasekv member list` shows, are the real ones). Isolating k blocks every proxy into and out of
// k — a symmetric partition, as a pulled cable would make. One proxy per pair (not per node) is
// needed because a node's outbound links carry its own messages: with one proxy per node, an
// "isolated" leader could still send heartbeats to the others and keep them from electing.
//
// The control API (JSON answers):
//   GET  /nodes                                   → { nodes: NodeControlState[] }
//   POST /nodes/ID/{kill|restart|pause|resume|isolate|heal|remove-member}
//   POST /members/add                             → the new member's NodeControlState (issue 12)
// Members added through the control API dial and are dialled directly (no fault proxy), so they
// cannot be isolated; remove-member removes the member from the cluster, then stops its process.
// A member whose process exits with EXIT_MEMBER_REMOVED (it learnt it was removed, server/removal.ts)
// is shown as 'removed' and never restarted; so are the removed members `up` was told of at start.
// POSTs need the header `x-leasekv-control: 1`, which makes a browser send a CORS preflight; the
// preflight and every answer allow only the nodes' own origins (the dashboard pages), so another web
// page open in the same browser cannot drive the cluster. Every request must also name the server
// by its own address in Host (127.0.0.1:PORT or localhost:PORT): a DNS-rebinding page (a name of the
// attacker's that resolves to 127.0.0.1) is same-origin with this server, so the browser sends its
// GETs without an Origin and lets it read the answers; its Host header gives it away.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assert } from '../util/assert.ts';
import { ControlConflictError, handleControl, type ControlAction, type NodeControlState } from './control-api.ts';
import { startGatedProxy, type GatedProxy } from './gated-proxy.ts';
import { EXIT_MEMBER_REMOVED } from '../server/removal.ts';

export {
  CONTROL_ACTIONS,
  ControlConflictError,
  type ControlAction,
  type NodeControlState,
  type ProcessState,
} from './control-api.ts';

export interface SupervisedNode {
  readonly id: string;
  /** HOST:PORT of the node's client API (its dashboard origin). */
  readonly clientAddr: string;
  /** HOST:PORT the node itself listens on for peers; the others reach it only through proxies. */
  readonly peerAddr: string;
}

export interface SupervisorOptions {
  readonly nodes: readonly SupervisedNode[];
  /** Control server port on 127.0.0.1; 0 picks a free one. */
  readonly controlPort: number;
  /**
   * First port of the fault proxies on 127.0.0.1: the proxy node i dials to reach node j (i ≠ j,
   * both 0-based positions in `nodes`) listens on proxyBasePort + proxyOffset(i, j, n), so the n(n-1)
   * proxies fill proxyBasePort .. proxyBasePort + n(n-1) - 1. Absent or 0: free ports picked by the OS.
   */
  readonly proxyBasePort?: number;
  /**
   * Instead of proxyBasePort: each proxy's port, at index proxyOffset(i, j, n). A proxy does not
   * listen until the node behind it does (gated-proxy.ts), so a port the OS picked (port 0, in its
   * ephemeral range) could meanwhile become the source port of some outgoing connection; tests
   * pass ports reserved below that range (testkit/ports.ts).
   */
  readonly proxyPorts?: readonly number[];
  /**
   * Starts node `id` as a child process. `routes` is the value its --peer-routes flag must have (a
   * proxy for every other member; its --peers gives the members' real peer addresses); `env` must
   * be added to its environment (LEASEKV_CONTROL_URL, which makes its dashboard show the controls).
   * `routes` is '' for a member added through add-member: it is started with --join instead.
   */
  spawn(id: string, routes: string, env: Readonly<Record<string, string>>): ChildProcess;
  /** Called when a child exits (after the supervisor's own bookkeeping). */
  onExit?(id: string, code: number | null, signal: NodeJS.Signals | null): void;
  /**
   * Membership changes for add-member / remove-member (absent: refused). add picks the next id not
   * in `taken`, adds it to the cluster (MemberAdd) and returns where it runs; remove removes it.
   * Throw ControlConflictError for a change the cluster or the port block cannot make.
   */
  readonly membership?: {
    add(taken: readonly string[]): Promise<SupervisedNode>;
    remove(id: string): Promise<void>;
  };
  /** Members added since the cluster was bootstrapped (a re-run of up): started like add-member's, no proxy. */
  readonly added?: readonly SupervisedNode[];
  /** Ids among `nodes` removed from the cluster since: never started, shown as 'removed'. */
  readonly removed?: readonly string[];
  /** How long a graceful stop (SIGTERM) may take before SIGKILL. Default 10 s. */
  readonly stopTimeoutMs?: number;
}

export interface Supervisor {
  readonly controlUrl: string;
  /** Origins allowed to drive the control API. */
  readonly allowedOrigins: ReadonlySet<string>;
  states(): NodeControlState[];
  act(id: string, action: ControlAction): Promise<NodeControlState>;
  /** add-member: adds the next member to the cluster and starts it (direct peer links, no proxy). */
  addMember(): Promise<NodeControlState>;
  /** Graceful stop of every node (SIGTERM, SIGKILL after stopTimeoutMs), then proxies and server. */
  close(): Promise<void>;
}

interface Member {
  readonly node: SupervisedNode;
  /** Added through add-member: started with --join, peer links not proxied. */
  readonly added: boolean;
  child: ChildProcess | null;
  paused: boolean;
  isolated: boolean;
  lastExit: string;
  stoppedByControl: boolean;
  /** Removed from the cluster (its exit code said so, or up was told at start): never started again. */
  removed: boolean;
  exited: Promise<void>;
}

function newMember(node: SupervisedNode, added: boolean, removed: boolean): Member {
  return {
    node,
    added,
    child: null,
    paused: false,
    isolated: false,
    lastExit: '',
    stoppedByControl: false,
    removed,
    exited: Promise.resolve(),
  };
}

function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  assert(i > 0 && Number.isInteger(port), `'${addr}' is not HOST:PORT`);
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** The browser origins a node's dashboard may have: its client address (http, or https under TLS), and localhost for 127.0.0.1. */
export function dashboardOrigins(clientAddr: string): string[] {
  const { host, port } = splitHostPort(clientAddr);
  const out = [`http://${clientAddr}`, `https://${clientAddr}`];
  if (host === '127.0.0.1') out.push(`http://localhost:${port}`, `https://localhost:${port}`);
  return out;
}

/** The proxy for i → j within the block of n(n-1): from-major order, skipping i → i. */
export function proxyOffset(from: number, to: number, n: number): number {
  assert(from >= 0 && to >= 0 && from < n && to < n && from !== to, `no proxy ${from}→${to} among ${n}`);
  return from * (n - 1) + (to < from ? to : to - 1);
}

export async function startSupervisor(opts: SupervisorOptions): Promise<Supervisor> {
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const members = new Map<string, Member>();
  for (const n of opts.nodes) members.set(n.id, newMember(n, false, opts.removed?.includes(n.id) ?? false));
  for (const n of opts.added ?? []) members.set(n.id, newMember(n, true, false));
  // pair key `${from}>${to}`: the proxy node `from` dials to reach `to`.
  const proxies = new Map<string, GatedProxy>();
  const server = createServer();
  try {
    const n = opts.nodes.length;
    for (const [i, from] of opts.nodes.entries()) {
      for (const [j, to] of opts.nodes.entries()) {
        if (i === j) continue;
        const target = splitHostPort(to.peerAddr);
        const k = proxyOffset(i, j, n);
        const listenPort =
          opts.proxyPorts?.[k] ??
          (opts.proxyBasePort === undefined || opts.proxyBasePort === 0 ? 0 : opts.proxyBasePort + k);
        proxies.set(
          `${from.id}>${to.id}`,
          await startGatedProxy({
            listenHost: '127.0.0.1',
            listenPort,
            targetHost: target.host,
            targetPort: target.port,
          }),
        );
      }
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.controlPort, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    for (const p of proxies.values()) await p.close();
    server.close();
    throw e;
  }
  const controlPort = (server.address() as AddressInfo).port;
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const allowedHosts: ReadonlySet<string> = new Set([`127.0.0.1:${controlPort}`, `localhost:${controlPort}`]);
  const allowedOrigins = new Set([...members.values()].flatMap((m) => dashboardOrigins(m.node.clientAddr)));

  /** --peer-routes of `id`: the proxy it dials for every other member. */
  const routesFor = (id: string): string =>
    opts.nodes
      .filter((n) => n.id !== id)
      .map((n) => `${n.id}=127.0.0.1:${(proxies.get(`${id}>${n.id}`) as GatedProxy).port}`)
      .join(',');

  const state = (m: Member): NodeControlState => ({
    id: m.node.id,
    state: m.child !== null ? (m.paused ? 'paused' : 'running') : m.removed ? 'removed' : 'stopped',
    isolated: m.isolated,
    pid: m.child?.pid ?? null,
    lastExit: m.lastExit,
    stoppedByControl: m.child === null && m.stoppedByControl,
    added: m.added,
  });

  const launch = (m: Member): void => {
    const child = opts.spawn(m.node.id, m.added ? '' : routesFor(m.node.id), { LEASEKV_CONTROL_URL: controlUrl });
    m.child = child;
    m.paused = false;
    m.stoppedByControl = false;
    m.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (m.child === child) m.child = null;
        m.paused = false;
        m.lastExit = signal ?? `code ${code ?? '?'}`;
        if (code === EXIT_MEMBER_REMOVED) {
          m.removed = true;
          m.lastExit += ': removed from the cluster';
        }
        opts.onExit?.(m.node.id, code, signal);
        resolve();
      });
    });
  };

  const signal = (m: Member, sig: NodeJS.Signals): void => {
    if (m.child?.pid === undefined) throw new ControlConflictError(`${m.node.id} is not running`);
    process.kill(m.child.pid, sig);
  };

  /** Stops a member's process: SIGTERM (graceful, hands the lease over), SIGKILL if it lingers. */
  const stopMember = async (m: Member, sig: NodeJS.Signals): Promise<void> => {
    if (m.child === null) return;
    if (m.paused) signal(m, 'SIGCONT'); // a stopped process cannot handle SIGTERM
    signal(m, sig);
    const timer = setTimeout(() => m.child?.kill('SIGKILL'), stopTimeoutMs);
    await m.exited;
    clearTimeout(timer);
  };

  const setIsolated = (m: Member, isolated: boolean): void => {
    m.isolated = isolated;
    for (const [key, p] of proxies) {
      const [from, to] = key.split('>') as [string, string];
      p.setBlocked((members.get(from)?.isolated ?? false) || (members.get(to)?.isolated ?? false));
    }
  };

  const act = async (id: string, action: ControlAction): Promise<NodeControlState> => {
    const m = members.get(id);
    if (m === undefined) throw new RangeError(`no node '${id}'`);
    switch (action) {
      case 'kill':
        m.stoppedByControl = true; // before the exit handlers run
        await stopMember(m, 'SIGKILL');
        break;
      case 'restart':
        if (m.removed)
          throw new ControlConflictError(
            `${id} was removed from the cluster: its id can never rejoin, so it is not restarted`,
          );
        await stopMember(m, 'SIGTERM');
        launch(m);
        break;
      case 'pause':
        signal(m, 'SIGSTOP');
        m.paused = true;
        break;
      case 'resume':
        signal(m, 'SIGCONT');
        m.paused = false;
        break;
      case 'isolate':
        if (m.added)
          throw new ControlConflictError(
            `${id} was added from the dashboard: its peer links have no fault proxy, so it cannot be isolated`,
          );
        setIsolated(m, true);
        break;
      case 'heal':
        setIsolated(m, false);
        break;
      case 'remove-member': {
        if (opts.membership === undefined) throw new ControlConflictError('this supervisor does not change membership');
        await opts.membership.remove(id);
        m.removed = true;
        m.stoppedByControl = true;
        await stopMember(m, 'SIGTERM');
        const st = state(m);
        members.delete(id);
        return st;
      }
    }
    return state(m);
  };

  // One membership change at a time (the cluster refuses overlapping ones anyway).
  let changing = false;
  const addMember = async (): Promise<NodeControlState> => {
    if (opts.membership === undefined) throw new ControlConflictError('this supervisor does not change membership');
    if (changing) throw new ControlConflictError('another membership change is under way');
    changing = true;
    try {
      const node = await opts.membership.add([...members.keys()]);
      const m = newMember(node, true, false);
      members.set(node.id, m);
      for (const o of dashboardOrigins(node.clientAddr)) allowedOrigins.add(o);
      launch(m);
      return state(m);
    } finally {
      changing = false;
    }
  };

  server.on('request', (req, res) =>
    handleControl(req, res, {
      allowedHosts,
      allowedOrigins,
      states: () => [...members.values()].map(state),
      act,
      addMember,
    }),
  );
  for (const m of members.values()) if (!m.removed) launch(m);

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await Promise.all([...members.values()].map((m) => stopMember(m, 'SIGTERM').catch(() => {})));
      for (const p of proxies.values()) await p.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })());
  return { controlUrl, allowedOrigins, states: () => [...members.values()].map(state), act, addMember, close };
}
