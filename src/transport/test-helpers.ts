// Test-only helpers for transport tests (not imported by production code).
import type { Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import { PeerTransport, type PeerTransportOptions, type TransportLogger } from './peer-transport.ts';

export interface LogLine {
  level: string;
  msg: string;
  fields: object;
}

export function captureLogger(lines: LogLine[]): TransportLogger {
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface TestNode {
  t: PeerTransport;
  got: Message[];
  logs: LogLine[];
}

/** Starts transports for `ids` on 127.0.0.1 ephemeral ports and points them at each other. */
export async function startMesh(
  ids: readonly NodeId[],
  extra: Partial<PeerTransportOptions> = {},
): Promise<Map<NodeId, TestNode>> {
  const nodes = new Map<NodeId, TestNode>();
  for (const id of ids) {
    const logs: LogLine[] = [];
    const t = new PeerTransport({
      selfId: id,
      clusterId: 'test-cluster',
      listenHost: '127.0.0.1',
      listenPort: 0,
      // Placeholder addresses until every port is known (port 1: refused at once).
      peers: new Map(ids.map((p) => [p, { host: '127.0.0.1', port: 1 }])),
      maxFrameBytes: 4 * 1024 * 1024,
      maxQueuedBytesPerPeer: 8 * 1024 * 1024,
      reconnectBackoffMinMs: 10,
      reconnectBackoffMaxMs: 100,
      logger: captureLogger(logs),
      ...extra,
    });
    const got: Message[] = [];
    t.onMessage((m) => got.push(m));
    await t.start();
    nodes.set(id, { t, got, logs });
  }
  for (const [id, n] of nodes) {
    for (const [other, o] of nodes) if (other !== id) n.t.setPeerAddress(other, { host: '127.0.0.1', port: o.t.port });
  }
  return nodes;
}

export function heartbeat(from: NodeId, to: NodeId, round: number): Message {
  return {
    type: 'app',
    from,
    to,
    term: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries: [],
    commit: 0,
    leaseDurationMs: 900,
    round,
  };
}

export function get<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`missing ${String(k)}`);
  return v;
}

/** A snapshot message from `from` to `to` at `index` (term 3 unless given) for transfer tests. */
export function snapMsg(
  from: NodeId,
  to: NodeId,
  index: number,
  term = 3,
  voters: readonly NodeId[] = ['a', 'b'],
): SnapshotRequest {
  return {
    type: 'snap',
    from,
    to,
    term,
    snapshot: { index, term, confState: { voters: [...voters], learners: [], removed: [] } },
    leaseDurationMs: 900,
    round: 7,
  };
}
