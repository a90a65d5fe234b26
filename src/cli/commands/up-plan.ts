// The plan of `leasekv up`: the port block (layout in up.ts's USAGE), each node's addresses and
// data dir, its serve arguments, and the checks made before anything starts.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { ControlConflictError, proxyOffset } from '../supervisor.ts';
import { readIdentity } from '../../storage/identity.ts';
import { holdsMemberData } from '../../server/identity.ts';
import { memberList, serveArgs as buildServeArgs, type ServeSpec } from '../../server/serve-args.ts';

/** Where the peer and proxy ports start, from --base-port (the block layout in USAGE). */
export const PEER_OFFSET = 100;
export const PROXY_OFFSET = 200;

/** The most members the port block has room for (ids n1..n5). */
export const MAX_MEMBERS = 5;

/** Every port `up` opens for `nodes` nodes from `basePort`, in the documented block. */
export interface PortBlock {
  readonly control: number;
  readonly clients: readonly number[];
  readonly peers: readonly number[];
  /** First proxy port; the proxies fill proxyBase .. proxyBase + n(n-1) - 1. */
  readonly proxyBase: number;
  readonly first: number;
  readonly last: number;
}

export function portBlock(nodes: number, basePort: number): PortBlock {
  const ids = Array.from({ length: nodes }, (_, i) => i);
  const proxyBase = basePort + PROXY_OFFSET;
  return {
    control: basePort - 1,
    clients: ids.map((i) => basePort + i),
    peers: ids.map((i) => basePort + PEER_OFFSET + i),
    proxyBase,
    first: basePort - 1,
    last: proxyBase + nodes * (nodes - 1) - 1,
  };
}

export interface NodePlan {
  readonly id: string;
  readonly clientAddr: string;
  readonly peerAddr: string;
  readonly dataDir: string;
}

export function plan(nodes: number, dataDir: string, basePort: number): NodePlan[] {
  const ports = portBlock(nodes, basePort);
  return Array.from({ length: nodes }, (_, i) => ({
    id: `n${i + 1}`,
    clientAddr: `127.0.0.1:${ports.clients[i]!}`,
    peerAddr: `127.0.0.1:${ports.peers[i]!}`,
    dataDir: resolve(dataDir, `n${i + 1}`),
  }));
}

/** `serve` arguments of planned node `p` bootstrapping with every planned member (--peers). */
export function serveArgs(p: NodePlan, all: readonly NodePlan[]): string[] {
  return buildServeArgs({
    ...own(p),
    peers: memberList(all.map((n) => [n.id, n.peerAddr])),
    clientAddrs: memberList(all.map((n) => [n.id, n.clientAddr])),
  });
}

/** `serve` arguments of a member that has data: its members are in its data dir. */
export function restartArgs(p: NodePlan): string[] {
  return buildServeArgs(own(p));
}

/** `serve` arguments of a member just added, joining through the client `endpoints` (--join). */
export function joinArgs(p: NodePlan, endpoints: readonly string[]): string[] {
  return buildServeArgs({ ...own(p), join: endpoints });
}

function own(p: NodePlan): Omit<ServeSpec, 'peers' | 'clientAddrs' | 'join' | 'settings'> {
  // TLS: up adds the flags of its local CA (local-ca.ts, serveTlsArgs).
  return { insecure: false, id: p.id, dataDir: p.dataDir, listenPeer: p.peerAddr, listenClient: p.clientAddr };
}

/**
 * Why `up --nodes N` must not run on this folder: it is a member's data dir itself, or it holds a
 * cluster of another size (its members are recorded in each data dir, docs/storage.md "Cluster
 * identity"), or null.
 */
export function recordedSizeProblem(nodes: readonly NodePlan[], dataDir: string): string | null {
  // Not the folder of a cluster but one member's data dir (data/n1 for data): up would nest a new
  // cluster inside it.
  if (holdsMemberData(dataDir))
    return `${resolve(dataDir)} is a member's data dir, not the folder that holds a cluster's n1..nN: give that folder (--data-dir ${dirname(dataDir)}, say), or a new one for a new cluster.`;
  for (const n of nodes) {
    let rec;
    try {
      rec = readIdentity(n.dataDir);
    } catch (e) {
      return (e as Error).message;
    }
    if (rec === null) continue;
    const ids = rec.initialMembers.map((m) => m.id);
    if (ids.length === nodes.length) {
      const was = rec.initialMembers.find((m) => m.id === n.id)?.clientAddr;
      if (was === undefined || was === '' || was === n.clientAddr) continue;
      return `${resolve(dataDir)} was started with another --base-port (its ${n.id} served clients on ${was}, not ${n.clientAddr}): resume it with the --base-port it was started with (the members' addresses are recorded in their data dirs).`;
    }
    return `${resolve(dataDir)} holds a ${ids.length}-node cluster (${ids.join(', ')}), not ${nodes.length} nodes: run \`leasekv up --nodes ${ids.length}${dataDir === './data' ? '' : ` --data-dir ${dataDir}`}\` to resume it, or use another --data-dir for a new ${nodes.length}-node cluster. (Starting it with another size would make the nodes refuse their data; a running cluster changes size with \`leasekv member add\` and \`leasekv member remove\`.)`;
  }
  return null;
}

/**
 * The member add-member starts: the lowest nK (K ≤ MAX_MEMBERS) neither running nor with a data dir
 * (an id never comes back once removed), on client port P+K-1 and peer port P+PEER_OFFSET+K-1.
 */
export function nextMember(taken: readonly string[], dataDir: string, basePort: number): NodePlan {
  for (let k = 1; k <= MAX_MEMBERS; k++) {
    const id = `n${k}`;
    const dir = resolve(dataDir, id);
    if (taken.includes(id) || existsSync(dir)) continue;
    return memberPlan(id, dataDir, basePort);
  }
  throw new ControlConflictError(
    `no member can be added: the port block of \`leasekv up\` has room for n1..n${MAX_MEMBERS}, and each id is used once (${resolve(dataDir)} holds their data dirs)`,
  );
}

/** Where up runs member nK (K ≤ MAX_MEMBERS): client port P+K-1, peer port P+PEER_OFFSET+K-1, DATA_DIR/nK. */
export function memberPlan(id: string, dataDir: string, basePort: number): NodePlan {
  const k = Number(id.slice(1));
  return {
    id,
    clientAddr: `127.0.0.1:${basePort + k - 1}`,
    peerAddr: `127.0.0.1:${basePort + PEER_OFFSET + k - 1}`,
    dataDir: resolve(dataDir, id),
  };
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** Every port of the block, with what it is for (for the busy-port message). */
export function blockPorts(ids: readonly string[], b: PortBlock): [number, string][] {
  const n = ids.length;
  const proxies: [number, string][] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (i !== j) proxies.push([b.proxyBase + proxyOffset(i, j, n), `proxy ${ids[i]!}→${ids[j]!}`]);
  return [
    [b.control, 'control API'],
    ...b.clients.map((p, i): [number, string] => [p, ids[i]!]),
    ...b.peers.map((p, i): [number, string] => [p, `${ids[i]!} peer`]),
    ...proxies,
  ];
}
