// A leasekv node's membership and observability: the calls membership.ts drives (ConfChange
// proposals, leadership transfer), the graceful stop's handover, and the status the API, metrics and
// dashboard read.

import type { RaftNode } from '../raft/node.ts';
import type { ConfChange } from '../raft/types.ts';
import type { ConfChangeResult } from '../raft/membership.ts';
import type { MembershipTable } from '../kv/members.ts';
import type { NotLeaderError, MemberInfo, StatusResult } from './backend.ts';
import { NodeDrive } from './node-drive.ts';
import { VERSION } from './node-drive.ts';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../transport/codec.ts';
import { clusterProtocolVersion } from '../transport/version.ts';

/** What Status shows of a peer's handshake (transport PeerStats). */
export interface PeerVersion {
  readonly protocolVersion: number;
  readonly software: string;
}
const PROTOCOLS = { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION };

export abstract class NodeMembership extends NodeDrive {
  /** Each peer's last handshake (none until startNode sets it: a node without a transport of its own). */
  private peerVersions: () => Readonly<Record<string, PeerVersion>> = () => ({});

  // ---- membership (membership.ts drives these) --------------------------------------------------

  proposeConfChange(cc: ConfChange, force: boolean): ConfChangeResult {
    const r = this.core.proposeConfChange(cc, this.now(), { force });
    this.schedule();
    return r;
  }

  transferTo(target: string | null): boolean {
    const ok = this.core.transferLeadership(target, this.now());
    this.schedule();
    return ok;
  }

  waitAppliedIndex(index: number, signal: AbortSignal): Promise<void> {
    return this.kv.appliedIndex >= index ? Promise.resolve() : this.waitApplied(index, signal);
  }

  get members(): MembershipTable {
    return this.kv.members;
  }

  notLeaderError(hint: string | null): NotLeaderError {
    return this.notLeader(hint);
  }

  /** Who the members are and where, for Status (set by startNode; default: the flags' view). */
  setMembersView(view: () => readonly MemberInfo[]): void {
    this.membersView = view;
  }

  /** Where Status reads each peer's protocol and software version (set by startNode: the transport's handshakes). */
  setPeerVersions(view: () => Readonly<Record<string, PeerVersion>>): void {
    this.peerVersions = view;
  }

  /** The members with their protocol and software versions (Status, the dashboard), and the cluster's protocol. */
  memberVersions(): { members: MemberInfo[]; cluster: number } {
    const peers = this.peerVersions();
    const members = this.membersView().map((m): MemberInfo => {
      if (m.id === this.cfg.id) return { ...m, protocolVersion: PROTOCOL_VERSION, softwareVersion: VERSION };
      const p = peers[m.id];
      return { ...m, protocolVersion: p?.protocolVersion ?? 0, softwareVersion: p?.software ?? '' };
    });
    const others = members
      .filter((m) => m.id !== this.cfg.id)
      .map((m) => ({ protocolVersion: m.protocolVersion ?? 0 }));
    return { members, cluster: clusterProtocolVersion(PROTOCOLS, others) };
  }

  /** The members in force now, as Status lists them (the dashboard's feed sends them too). */
  memberList(): readonly MemberInfo[] {
    return this.membersView();
  }

  status(): Promise<StatusResult> {
    const st = this.core.status(this.now());
    const leader = st.leader ?? '';
    const { members, cluster } = this.memberVersions();
    return Promise.resolve({
      id: this.cfg.id,
      role: st.role === 'leader' ? 'leader' : st.role === 'follower' ? 'follower' : 'candidate',
      term: st.term,
      leader,
      leaderClientAddr: this.clientAddrOf(leader),
      commitIndex: st.commit,
      appliedIndex: this.kv.appliedIndex,
      leaseHeld: st.leaseHeld,
      leaseRemainingMs: Math.round(st.leaseRemainingMs),
      oldLeaseRemainingMs: Math.round(st.oldLeaseRemainingMs),
      members,
      keys: this.kv.size,
      version: VERSION,
      revision: this.kv.revision,
      configIndex: st.confIndex,
      configCommitted: st.confCommitted,
      minProtocolVersion: MIN_PROTOCOL_VERSION,
      maxProtocolVersion: PROTOCOL_VERSION,
      clusterProtocolVersion: cluster,
    });
  }

  /** The core's full status, for the dashboard and metrics. */
  /** Revisions, watchers and TTL grants (issue 14), for metrics and the dashboard. */
  coordStats(): {
    revision: number;
    watchers: number;
    watchOldestRevision: number;
    ttlGrants: number;
    ttlCounting: boolean;
  } {
    return {
      revision: this.kv.revision,
      watchers: this.watchHub.watcherCount,
      watchOldestRevision: this.watchHub.oldest,
      ttlGrants: this.kv.ttlGrants().length,
      ttlCounting: this.ttlCountdowns.active,
    };
  }

  raftStatus(): ReturnType<RaftNode['status']> & { applied: number; nowMs: number } {
    const nowMs = this.now();
    return { ...this.core.status(nowMs), applied: this.kv.appliedIndex, nowMs };
  }

  // ---- stopping ---------------------------------------------------------------------------------

  /**
   * Graceful stop (docs/lease-notes.md case 7): a leader hands leadership to its most caught-up follower,
   * giving up its lease first, then waits (bounded) for the handover before the host closes things.
   */
  async handOver(maxWaitMs: number): Promise<void> {
    if (this.stopped) return; // after a storage error: nothing can be handed over
    const st = this.core.status(this.now());
    if (st.role !== 'leader') return;
    let best: string | null = null;
    let bestMatch = -1;
    for (const [id, pr] of Object.entries(st.progress)) {
      if (id !== this.cfg.id && pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best === null) return;
    this.log.info({ target: best }, 'stopping: giving up the lease and transferring leadership');
    this.core.transferLeadership(best, this.now());
    this.schedule();
    const deadline = this.now() + maxWaitMs;
    while (this.now() < deadline && this.core.role === 'leader') {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
