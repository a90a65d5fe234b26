// GET /health on the client port (docs/api.md, "Health"): is this node useful right now? Built from
// the core's status and the applied index only — no proposal, no read barrier, no admission slot —
// so a prober polling it costs the lease-read path nothing.
import type { ServerResponse } from 'node:http';
import type { ExtraRoute } from './api/server.ts';
import type { LeaseKvNode } from './node.ts';

/** Applied may trail the known commit index by this many entries and still count as caught up. */
export const MAX_APPLY_LAG_ENTRIES = 100;

export interface HealthReport {
  readonly health: boolean;
  /** Why not healthy ('' when healthy): the failed conditions, '; '-separated. */
  readonly reason: string;
  readonly id: string;
  readonly role: string;
  readonly term: number;
  /** The leader this node knows ('' if none). */
  readonly leader: string;
  /** Leader: holds a valid lease. Follower: knows a leader's lease still running. */
  readonly leaseValid: boolean;
  readonly leaseRemainingMs: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly caughtUp: boolean;
}

type HealthSource = Pick<LeaseKvNode, 'raftStatus' | 'running'>;

export function healthOf(node: HealthSource): HealthReport {
  const st = node.raftStatus();
  const leader = st.leader ?? '';
  const isLeader = st.role === 'leader';
  const leaseValid = isLeader ? st.leaseHeld : st.role === 'follower' && leader !== '' && st.oldLeaseRemainingMs > 0;
  const leaseRemainingMs = Math.round(isLeader ? st.leaseRemainingMs : st.oldLeaseRemainingMs);
  const caughtUp = st.commit - st.applied <= MAX_APPLY_LAG_ENTRIES;
  const why: string[] = [];
  if (!node.running) why.push('node stopped');
  if (leader === '') why.push('no leader known');
  if (!leaseValid) why.push(isLeader ? 'leader holds no valid lease (yet)' : 'no valid leader lease known');
  if (!caughtUp)
    why.push(`applied index ${st.applied} trails commit index ${st.commit} by more than ${MAX_APPLY_LAG_ENTRIES}`);
  return {
    health: why.length === 0,
    reason: why.join('; '),
    id: st.id,
    role: st.role,
    term: st.term,
    leader,
    leaseValid,
    leaseRemainingMs: leaseValid ? leaseRemainingMs : 0,
    commitIndex: st.commit,
    appliedIndex: st.applied,
    caughtUp,
  };
}

/** GET /health: 200 with the report when healthy, 503 with it when not. */
export function healthRoute(node: HealthSource): ExtraRoute {
  return {
    method: 'GET',
    path: '/health',
    handler: (_req, res: ServerResponse) => {
      const report = healthOf(node);
      const body = JSON.stringify(report);
      res.writeHead(report.health ? 200 : 503, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(body);
    },
  };
}
