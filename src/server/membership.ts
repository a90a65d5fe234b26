// The node's side of membership (docs/design.md "Membership"): the Cluster service's operations on
// the core, where members are (addresses and incarnations), which peers the transport dials, and
// the leader's promotion of members added as voters once they have caught up.
//
// Where a member's addresses come from: a member added by `member add` carries them in its
// add-learner entry's context (kept in the replicated MembershipTable once committed, and noted as
// soon as the entry is appended, since a change is in force from then on); the first members'
// come from this node's identity record (each member's own view, docs/storage.md).
import type { ConfChange, ConfChangeResult, ConfState, RaftStatus } from '../raft/index.ts';
import { decodeMemberContext, encodeMemberContext } from '../kv/members.ts';
import type { MembershipTable, MemberContext } from '../kv/members.ts';
import type { MemberRecord } from '../storage/identity.ts';
import { ChangeRefusedError } from './cluster-backend.ts';
import type {
  ChangeResult,
  ClusterBackend,
  MemberAddRequest,
  MemberListResult,
  MemberView,
} from './cluster-backend.ts';
import { InvalidArgumentError, UnavailableError } from './backend.ts';
import { newIncarnation } from './identity.ts';
import { parseHostPort, NodeConfigError } from './config.ts';
import { refuseUndialable } from './config-addrs.ts';

/** What the membership service needs of the node. */
export interface MembershipHost {
  readonly selfId: string;
  readonly clusterId: string;
  readonly heartbeatIntervalMs: number;
  raftStatus(): RaftStatus;
  proposeConfChange(cc: ConfChange, force: boolean): ConfChangeResult;
  transferLeadership(target: string | null): boolean;
  waitApplied(index: number, signal: AbortSignal): Promise<void>;
  table(): MembershipTable;
  /** A not-leader error with the leader hint, as KV answers. */
  notLeader(hint: string | null): Error;
}

export interface Addresses {
  readonly peerAddr: string;
  readonly clientAddr: string;
}

const EMPTY = new Uint8Array(0);
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export class Membership implements ClusterBackend {
  /** Contexts of add-learner entries seen appended (before they commit into the table). */
  private readonly appended = new Map<string, MemberContext>();
  private promoteTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: MembershipHost,
    /** The members this node started with (its identity record's view of their addresses). */
    private readonly initial: readonly MemberRecord[],
    /**
     * The first members, when this node is one of them: their addresses and identities come from
     * the identity record, never from the table (a cluster restored from a backup carries the old
     * cluster's table in its snapshot).
     */
    private readonly bootstrapIds: ReadonlySet<string>,
  ) {}

  /** An entry appended to this node's log (or restored from it at start). */
  noteEntry(cc: ConfChange): void {
    if (cc.kind !== 'add-learner') return;
    const ctx = decodeMemberContext(cc.context);
    if (ctx !== null) this.appended.set(cc.id, ctx);
  }

  private context(id: string): MemberContext | undefined {
    return this.host.table().get(id) ?? this.appended.get(id);
  }

  addressesOf(id: string): Addresses | undefined {
    const ctx = this.bootstrapIds.has(id) ? undefined : this.context(id);
    if (ctx !== undefined) return { peerAddr: ctx.peerAddr, clientAddr: ctx.clientAddr };
    const rec = this.initial.find((m) => m.id === id);
    return rec === undefined ? undefined : { peerAddr: rec.peerAddr, clientAddr: rec.clientAddr };
  }

  /** The incarnation chosen when `id` was added (undefined for the first members). */
  addedIncarnation(id: string): string | undefined {
    return this.bootstrapIds.has(id) ? undefined : this.context(id)?.incarnation;
  }

  /** Every member of `cs` with what is known of it. */
  view(cs: ConfState): MemberView[] {
    const one = (id: string, learner: boolean): MemberView => {
      const a = this.addressesOf(id);
      return {
        id,
        peerAddr: a?.peerAddr ?? '',
        clientAddr: a?.clientAddr ?? '',
        learner,
        incarnation: this.addedIncarnation(id) ?? '',
      };
    };
    return [...cs.voters.map((id) => one(id, false)), ...cs.learners.map((id) => one(id, true))];
  }

  /** The leader promotes learners added as voters once they have caught up (the core refuses before). */
  start(): void {
    this.promoteTimer = setInterval(() => this.promoteCaughtUp(), Math.max(50, this.host.heartbeatIntervalMs * 2));
  }

  stop(): void {
    if (this.promoteTimer !== null) clearInterval(this.promoteTimer);
    this.promoteTimer = null;
  }

  private promoteCaughtUp(): void {
    const st = this.host.raftStatus();
    if (st.role !== 'leader' || !st.confCommitted) return;
    for (const id of st.confState.learners) {
      if (this.bootstrapIds.has(id) || this.context(id)?.autoPromote !== true) continue;
      // Refused while it is not caught up (or another change is in flight): tried again next time.
      this.host.proposeConfChange({ kind: 'promote', id, context: EMPTY }, false);
      return;
    }
  }

  // ---- leasekv.v1.Cluster --------------------------------------------------------------------

  memberList(): Promise<MemberListResult> {
    const st = this.host.raftStatus();
    return Promise.resolve({
      clusterId: this.host.clusterId,
      members: this.view(st.confState),
      removed: [...(st.confState.removed ?? [])],
      leader: st.leader ?? '',
      configIndex: st.confIndex,
      configCommitted: st.confCommitted,
    });
  }

  async memberAdd(req: MemberAddRequest, signal: AbortSignal): Promise<ChangeResult & { member: MemberView }> {
    if (!ID_RE.test(req.id))
      throw new InvalidArgumentError(`member id '${req.id}' must be 1–64 characters of A-Z a-z 0-9 _ . -`);
    for (const [what, v] of [
      ['peer address', req.peerAddr],
      ['client address', req.clientAddr],
    ] as const) {
      try {
        refuseUndialable(parseHostPort(v, what), what);
      } catch (e) {
        throw new InvalidArgumentError(e instanceof NodeConfigError ? e.message : String(e));
      }
    }
    this.refuseAddressInUse(req);
    const ctx: MemberContext = {
      peerAddr: req.peerAddr,
      clientAddr: req.clientAddr,
      incarnation: newIncarnation(),
      autoPromote: !req.learner,
    };
    const res = await this.change(
      { kind: 'add-learner', id: req.id, context: encodeMemberContext(ctx) },
      false,
      signal,
      (index) => this.host.table().get(req.id)?.addedAt === index,
    );
    const member = res.members.find((m) => m.id === req.id) ?? {
      id: req.id,
      peerAddr: req.peerAddr,
      clientAddr: req.clientAddr,
      learner: true,
      incarnation: ctx.incarnation,
    };
    return { ...res, member };
  }

  /**
   * Two members at one address: the leader would dial the other member for the new one (and its
   * handshake refuse every dial), so the learner would never catch up. Checked on the leader only
   * (a follower's view may be behind; it answers not-leader anyway). Remove the old member first.
   */
  private refuseAddressInUse(req: MemberAddRequest): void {
    const st = this.host.raftStatus();
    if (st.role !== 'leader') return;
    const norm = (a: string): string => a.trim().toLowerCase();
    for (const m of this.view(st.confState)) {
      // The same id at its own addresses: a retry of an add that went through (its answer lost);
      // the core answers already-member, which the caller can tell from a clash (chaos seed 700).
      if (m.id === req.id) continue;
      for (const [mine, addr] of [
        ['peer', req.peerAddr],
        ['client', req.clientAddr],
      ] as const) {
        const theirs = norm(m.peerAddr) === norm(addr) ? 'peer' : norm(m.clientAddr) === norm(addr) ? 'client' : null;
        if (theirs === null) continue;
        throw new ChangeRefusedError(
          'address-in-use',
          `the ${mine} address ${addr} is ${m.id}'s ${theirs} address: give ${req.id} its own (to replace ${m.id} on the same host, remove ${m.id} first)`,
        );
      }
    }
  }

  memberPromote(id: string, signal: AbortSignal): Promise<ChangeResult> {
    return this.change({ kind: 'promote', id, context: EMPTY }, false, signal, () =>
      this.host.raftStatus().confState.voters.includes(id),
    );
  }

  memberRemove(id: string, force: boolean, signal: AbortSignal): Promise<ChangeResult> {
    return this.change({ kind: 'remove', id, context: EMPTY }, force, signal, () => this.host.table().isRemoved(id));
  }

  async transferLeadership(target: string, signal: AbortSignal): Promise<{ leader: string }> {
    const st = this.host.raftStatus();
    if (st.role !== 'leader') throw this.host.notLeader(st.leader);
    if (target !== '' && target === this.host.selfId) return { leader: target };
    // Not a member: an answer, not a refusal that passes (the client retries not-caught-up).
    if (target !== '' && !st.confState.voters.includes(target) && !st.confState.learners.includes(target)) {
      throw new ChangeRefusedError(
        'unknown-member',
        `${target} is not a member (voters: ${st.confState.voters.join(', ')})`,
      );
    }
    if (!this.host.transferLeadership(target === '' ? null : target)) {
      throw new ChangeRefusedError(
        'not-caught-up',
        target === ''
          ? 'no voter is caught up enough to take over (each must have heard from the leader within an election timeout and hold its log)'
          : `${target} cannot take over: it must be a voter that has heard from the leader within an election timeout and holds its log (learners cannot lead)`,
      );
    }
    for (;;) {
      if (signal.aborted)
        throw new UnavailableError('the transfer did not complete before the deadline; see `leasekv status`');
      const now = this.host.raftStatus();
      if (now.role !== 'leader' && now.leader !== null && now.leader !== this.host.selfId)
        return { leader: now.leader };
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Proposes a change, waits until it is applied here, checks that it took effect (`took`: another
   * leader may have replaced the entry), and answers with the members after it.
   */
  private async change(
    cc: ConfChange,
    force: boolean,
    signal: AbortSignal,
    took: (index: number) => boolean,
  ): Promise<ChangeResult> {
    const r = this.host.proposeConfChange(cc, force);
    if (!r.ok) {
      if (r.reason === 'not-leader') throw this.host.notLeader(r.leaderHint);
      throw new ChangeRefusedError(r.reason, r.message);
    }
    await this.host.waitApplied(r.index, signal);
    if (!took(r.index)) throw lostChange();
    return { index: r.index, members: this.view(this.host.raftStatus().confState) };
  }
}

function lostChange(): Error {
  return new UnavailableError(
    'leadership changed before the change committed; it was not applied — check `leasekv member list` and retry',
  );
}
