// Connect service implementation of leasekv.v1.KV over a KvBackend. Serves gRPC, gRPC-Web and
// Connect (binary and JSON) through @connectrpc/connect.
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { KV } from '../../gen/leasekv/v1/kv_pb.ts';
import { CONN_SHARE, type ApiCore } from './core.ts';
import { consistencyFromApi, readModeToApi, roleToApi, u32Ms } from './convert.ts';
import { kvToApi, toTxn, txnToApi } from './txn.ts';
import { streamWatch, toWatch } from './watch.ts';
import { checkSession, toCas, toDelete, toGet, toPut, toRange } from './validate.ts';
import { allowKey, allowPrefix, requireRoot, requireSomeWrite } from '../auth/gate.ts';
import { allowTxn, callerOf } from './authz.ts';
import { rangeReservation, txnReservation } from './answer-budget.ts';

/** Longest TTL a grant may have: a day (longer-lived keys need no TTL). */
export const MAX_TTL_MS = 24 * 3600 * 1000;

export function consistency(c: number): 'linearizable' | 'stale' {
  try {
    return consistencyFromApi(c);
  } catch {
    throw new ConnectError(`consistency ${c} is not LINEARIZABLE or STALE`, Code.InvalidArgument);
  }
}

/**
 * uint64 on the wire; anything above 2^53 is not a sequence number, revision or id a client could
 * have been given or counted to. `field` names it in the error (the proto field name).
 */
export function u64(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConnectError(`${field} ${v} is too large`, Code.InvalidArgument);
  return Number(v);
}

export function kvService(core: ApiCore): ServiceImpl<typeof KV> {
  const { backend, limits } = core;
  const run = <T>(ctx: HandlerContext, fn: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    core.call(ctx.signal, ctx.timeoutMs(), fn, ctx.values.get(CONN_SHARE));
  const who = (ctx: HandlerContext) => callerOf(core.auth, ctx);
  return {
    async put(req, ctx) {
      const id = who(ctx);
      const r = toPut(
        {
          key: req.key,
          value: req.value,
          clientId: req.clientId,
          seq: u64(req.seq, 'seq'),
          ttlId: u64(req.ttlId, 'ttl_id'),
        },
        limits,
      );
      allowKey(id, r.key, true);
      const res = await run(ctx, (s) => backend.put(r, s));
      return { index: BigInt(res.index), revision: BigInt(res.revision) };
    },
    async get(req, ctx) {
      const id = who(ctx);
      const r = toGet({ key: req.key, consistency: consistency(req.consistency) }, limits);
      allowKey(id, r.key, false);
      const res = await run(ctx, (s) => backend.get(r, s));
      return {
        found: res.found,
        value: res.value,
        index: BigInt(res.index),
        readMode: readModeToApi(res.readMode),
        staleByMs: u32Ms(res.staleByMs),
        revision: BigInt(res.revision),
        createRevision: BigInt(res.createRevision),
        modRevision: BigInt(res.modRevision),
        version: BigInt(res.version),
      };
    },
    async delete(req, ctx) {
      const id = who(ctx);
      const r = toDelete({ key: req.key, clientId: req.clientId, seq: u64(req.seq, 'seq') }, limits);
      allowKey(id, r.key, true);
      const res = await run(ctx, (s) => backend.delete(r, s));
      return { deleted: res.deleted, index: BigInt(res.index), revision: BigInt(res.revision) };
    },
    async compareAndSwap(req, ctx) {
      const id = who(ctx);
      const r = toCas(
        { key: req.key, expected: req.expected, value: req.value, clientId: req.clientId, seq: u64(req.seq, 'seq') },
        limits,
      );
      allowKey(id, r.key, true);
      const res = await run(ctx, (s) => backend.compareAndSwap(r, s));
      const base = { swapped: res.swapped, index: BigInt(res.index), revision: BigInt(res.revision) };
      return res.current === undefined ? base : { ...base, current: res.current };
    },
    async range(req, ctx) {
      const id = who(ctx);
      const base = toRange({ ...req, consistency: consistency(req.consistency) }, limits);
      const r = req.revision === 0n ? base : { ...base, revision: u64(req.revision, 'revision') };
      allowPrefix(id, r.prefix, false);
      // The answer's budget is held until it is converted for the wire (answer-budget.ts).
      return core.answers.with(rangeReservation(r, limits), async () => {
        const res = await run(ctx, (s) => backend.range(r, s));
        const out = {
          kvs: res.kvs.map(kvToApi),
          more: res.more,
          index: BigInt(res.index),
          revision: BigInt(res.revision),
        };
        return res.count === undefined ? out : { ...out, count: BigInt(res.count) };
      });
    },
    async ttlGrant(req, ctx) {
      requireSomeWrite(who(ctx), 'make a TTL grant');
      if (req.ttlMs < 1 || req.ttlMs > MAX_TTL_MS)
        throw new ConnectError(`ttl_ms must be in 1..${MAX_TTL_MS}, got ${req.ttlMs}`, Code.InvalidArgument);
      const session = checkSession(req.clientId, u64(req.seq, 'seq'));
      const r = await run(ctx, (s) =>
        backend.ttlGrant(session === undefined ? { ttlMs: req.ttlMs } : { ttlMs: req.ttlMs, session }, s),
      );
      return { id: BigInt(r.id), ttlMs: r.ttlMs, index: BigInt(r.index), revision: BigInt(r.revision) };
    },
    async compact(req, ctx) {
      requireRoot(who(ctx), 'compact');
      const session = checkSession(req.clientId, u64(req.seq, 'seq'));
      const revision = u64(req.revision, 'revision');
      const r = await run(ctx, (s) => backend.compact(session === undefined ? { revision } : { revision, session }, s));
      return { compactRevision: BigInt(r.compactRevision), index: BigInt(r.index), revision: BigInt(r.revision) };
    },
    async ttlKeepAlive(req, ctx) {
      requireSomeWrite(who(ctx), 'keep a TTL grant alive');
      const r = await run(ctx, (s) => backend.ttlKeepAlive(u64(req.id, 'id'), s));
      return { id: BigInt(r.id), ttlMs: r.ttlMs };
    },
    async ttlRevoke(req, ctx) {
      const caller = who(ctx);
      requireSomeWrite(caller, 'revoke a TTL grant');
      const session = checkSession(req.clientId, u64(req.seq, 'seq'));
      const id = u64(req.id, 'id');
      // Revoking deletes the grant's keys: every one must be writable by the caller.
      if (caller !== null && !caller.root) for (const k of backend.ttlKeys?.(id) ?? []) allowKey(caller, k, true);
      const r = await run(ctx, (s) => backend.ttlRevoke(session === undefined ? { id } : { id, session }, s));
      return { found: r.found, index: BigInt(r.index), revision: BigInt(r.revision) };
    },
    watch(req, ctx) {
      const id = who(ctx);
      const r = toWatch(req, limits);
      if (r.prefix) allowPrefix(id, r.key, false);
      else allowKey(id, r.key, false);
      return streamWatch(backend, r, ctx.signal);
    },
    async txn(req, ctx) {
      const id = who(ctx);
      const r = toTxn(req, u64(req.seq, 'seq'), limits);
      allowTxn(id, r);
      return core.answers.with(txnReservation(r, limits), async () =>
        txnToApi(await run(ctx, (s) => backend.txn(r, s))),
      );
    },
    async status(_req, ctx) {
      const st = await run(ctx, () => backend.status());
      return {
        id: st.id,
        role: roleToApi(st.role),
        term: BigInt(st.term),
        leader: st.leader,
        leaderClientAddr: st.leaderClientAddr,
        commitIndex: BigInt(st.commitIndex),
        appliedIndex: BigInt(st.appliedIndex),
        leaseHeld: st.leaseHeld,
        leaseRemainingMs: u32Ms(st.leaseRemainingMs),
        oldLeaseRemainingMs: u32Ms(st.oldLeaseRemainingMs),
        members: st.members.map((m) => ({
          id: m.id,
          peerAddr: m.peerAddr,
          clientAddr: m.clientAddr,
          learner: m.learner ?? false,
          incarnation: m.incarnation ?? '',
          protocolVersion: m.protocolVersion ?? 0,
          softwareVersion: m.softwareVersion ?? '',
        })),
        keys: BigInt(st.keys),
        version: st.version,
        revision: BigInt(st.revision),
        configIndex: BigInt(st.configIndex ?? 0),
        configCommitted: st.configCommitted ?? true,
        configJoint: false,
        minProtocolVersion: st.minProtocolVersion ?? 0,
        maxProtocolVersion: st.maxProtocolVersion ?? 0,
        clusterProtocolVersion: st.clusterProtocolVersion ?? 0,
      };
    },
  };
}

export function kvRoutes(core: ApiCore): (router: ConnectRouter) => void {
  return (router) => {
    router.service(KV, kvService(core));
  };
}
