// GET /snapshot on the client port: the leader streams a backup file (src/storage/backup_file.ts) of
// its state at a linearizable point, while it goes on serving. `leasekv snapshot save` calls it.
// Errors answer like the Connect JSON API ({code, message}, same HTTP status, leader hint headers), so
// a follower says "not leader" and names the leader.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect';
import { encodeBackupAsync, type BackupMember } from '../storage/backup_file.ts';
import { toConnectError } from './api/errors.ts';
import type { ExtraRoute } from './api/server.ts';
import { formatHostPort, type HostPort, type NodeConfig } from './config.ts';
import type { LeaseKvNode } from './node.ts';
import { requireRoot, type AuthGate } from './auth/gate.ts';
import { callerOfRequest } from './api/authz.ts';

export const BACKUP_PATH = '/snapshot';

type BackupSource = Pick<LeaseKvNode, 'backup' | 'memberList'>;

function sendError(res: ServerResponse, err: unknown): void {
  const ce = toConnectError(err);
  const body = JSON.stringify({
    code: Code[ce.code].replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase(),
    message: ce.rawMessage,
  });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  ce.metadata.forEach((v, k) => {
    headers[k] = v;
  });
  res.writeHead(codeToHttpStatus(ce.code), headers);
  res.end(body);
}

export function backupRoute(node: BackupSource, cfg: NodeConfig, gate?: AuthGate): ExtraRoute {
  // One backup at a time per node: each holds a full copy of the state while it is encoded and sent.
  let busy = false;
  // The members' addresses as the cluster knows them (those added by `member add` are in no flag of
  // this node, and a node restarted without --peers has none), else as this node's flags give them.
  const addressed = (ids: readonly string[]): BackupMember[] => {
    const known = new Map(node.memberList().map((m) => [m.id, m]));
    const or = (a: string | undefined, hp: HostPort | undefined): string =>
      a !== undefined && a !== '' ? a : hp === undefined ? '' : formatHostPort(hp);
    return ids.map((id) => ({
      id,
      peerAddr: or(known.get(id)?.peerAddr, cfg.peers.get(id)),
      clientAddr: or(known.get(id)?.clientAddr, cfg.clientAddrs.get(id)),
    }));
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      // A backup holds every key and the password hashes: root only (issue 15).
      requireRoot(callerOfRequest(gate, req), 'take a backup');
    } catch (err) {
      return sendError(res, err);
    }
    if (busy)
      return sendError(
        res,
        new ConnectError('a backup is already being taken on this node; retry when it is done', Code.ResourceExhausted),
      );
    busy = true;
    const ctrl = new AbortController();
    res.once('close', () => ctrl.abort(new ConnectError('request canceled by the client', Code.Canceled)));
    req.resume();
    node
      .backup(ctrl.signal)
      .then(async (b) => ({
        b,
        parts: await encodeBackupAsync(
          {
            index: b.index,
            term: b.term,
            keys: b.keys,
            clusterToken: cfg.clusterToken,
            members: addressed(b.members),
            node: cfg.id,
            createdAt: new Date().toISOString(),
          },
          b.data,
        ),
      }))
      .then(
        ({ b, parts }) => {
          const length = parts.reduce((n, p) => n + p.length, 0);
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': length,
            'leasekv-backup-index': String(b.index),
          });
          for (const p of parts) res.write(p);
          res.end();
        },
        (err: unknown) => {
          if (!res.headersSent && !res.destroyed) sendError(res, err);
        },
      )
      .finally(() => {
        busy = false;
      });
  };
  // HEAD would build a whole backup only to drop it: 405 (api/server.ts, ExtraRoute.head).
  return { method: 'GET', path: BACKUP_PATH, handler, head: false };
}
