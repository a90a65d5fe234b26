// Connect service implementation of leasekv.v1.Cluster (membership, docs/api.md "Cluster") over a
// ClusterBackend; served beside KV on the client port, with the same admission, deadline and errors.
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { Cluster } from '../../gen/leasekv/v1/kv_pb.ts';
import type { ClusterBackend, MemberView } from '../cluster-backend.ts';
import type { ApiCore } from './core.ts';
import { requireRoot } from '../auth/gate.ts';
import { callerOf } from './authz.ts';

function member(m: MemberView): {
  id: string;
  peerAddr: string;
  clientAddr: string;
  learner: boolean;
  incarnation: string;
} {
  return { id: m.id, peerAddr: m.peerAddr, clientAddr: m.clientAddr, learner: m.learner, incarnation: m.incarnation };
}

export function clusterService(core: ApiCore, backend: ClusterBackend): ServiceImpl<typeof Cluster> {
  const run = <T>(ctx: HandlerContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    core.call(ctx.signal, ctx.timeoutMs(), fn);
  // MemberList stays open (a member joining with --join asks it before it has any credentials; it
  // holds addresses, no keys). Changes need the root role (issue 15).
  const admin = (ctx: HandlerContext, what: string): void => requireRoot(callerOf(core.auth, ctx), what);
  return {
    async memberList(_req, ctx) {
      const r = await run(ctx, () => backend.memberList());
      return {
        clusterId: r.clusterId,
        members: r.members.map(member),
        removed: [...r.removed],
        leader: r.leader,
        configIndex: BigInt(r.configIndex),
        configCommitted: r.configCommitted,
      };
    },
    async memberAdd(req, ctx) {
      admin(ctx, 'add members');
      const r = await run(ctx, (s) =>
        backend.memberAdd({ id: req.id, peerAddr: req.peerAddr, clientAddr: req.clientAddr, learner: req.learner }, s),
      );
      return { member: member(r.member), index: BigInt(r.index), members: r.members.map(member) };
    },
    async memberPromote(req, ctx) {
      admin(ctx, 'promote members');
      const r = await run(ctx, (s) => backend.memberPromote(req.id, s));
      return { index: BigInt(r.index), members: r.members.map(member) };
    },
    async memberRemove(req, ctx) {
      admin(ctx, 'remove members');
      const r = await run(ctx, (s) => backend.memberRemove(req.id, req.force, s));
      return { index: BigInt(r.index), members: r.members.map(member) };
    },
    async transferLeadership(req, ctx) {
      admin(ctx, 'transfer leadership');
      return run(ctx, (s) => backend.transferLeadership(req.target, s));
    },
  };
}
