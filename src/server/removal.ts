// A removed member stops (docs/design.md, "A removed member stops"). It learns of its removal in one
// of two ways:
// - its own log: the entry that removes it commits here (a removed leader hands over first);
// - its peers: one that has the removal committed refuses its connection with a removal notice
//   (transport/removal-notice.ts). That is how a member that was down or cut off while it was
//   removed, and so never received the entry, learns it.
// A notice is believed only when it names this member and this cluster id, says more than this
// member's own committed log could (an index past its commit index: below that, its own log decides),
// and comes from the leader or from two members: one confused peer alone cannot make a healthy member
// exit. Then the member logs one line, answers clients with a typed error and exits with
// EXIT_MEMBER_REMOVED, which `leasekv up` (and a systemd unit's RestartPreventExitStatus) reads as
// "do not restart".
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.ts';
import type { RemovalNotice } from '../transport/removal-notice.ts';

/** `leasekv serve`'s exit code once this member learnt that it was removed from its cluster. */
export const EXIT_MEMBER_REMOVED = 3;

/** This member was removed from its cluster for good: it stops, and its id can never rejoin. */
export class MemberRemovedError extends Error {
  override readonly name = 'MemberRemovedError';
}

/** Distinct members (not the leader) whose notices make a removal believed. */
export const REMOVAL_WITNESSES = 2;

export interface RemovalVerdict {
  readonly removed: boolean;
  /** Why a notice was set aside (logged once per peer and cause); '' when it counts. */
  readonly ignored: string;
}

/**
 * The trust rule, pure: `notices` by the peer that sent them (latest per peer), `notice` just
 * received from `peer`. Exported for removal.test.ts.
 */
export function judgeNotice(
  self: { readonly id: NodeId; readonly clusterUid: string; readonly commit: number },
  notices: ReadonlyMap<NodeId, RemovalNotice>,
  peer: NodeId,
  notice: RemovalNotice,
): RemovalVerdict {
  if (notice.member !== self.id) return { removed: false, ignored: `it names ${notice.member}, not this member` };
  if (notice.clusterUid !== self.clusterUid)
    return { removed: false, ignored: `it is about cluster ${notice.clusterUid}, not ${self.clusterUid}` };
  if (notice.index <= self.commit)
    return {
      removed: false,
      ignored: `index ${notice.index} is not past this member's commit index ${self.commit}: its own log decides`,
    };
  if (notice.byLeader) return { removed: true, ignored: '' };
  const witnesses = new Set([...notices].filter(([, n]) => n.member === self.id).map(([p]) => p));
  witnesses.add(peer);
  return { removed: witnesses.size >= REMOVAL_WITNESSES, ignored: '' };
}

export interface RemovalWatchOptions {
  readonly selfId: NodeId;
  readonly clusterUid: string;
  /** This member's commit index now. */
  commit(): number;
  readonly log: Logger;
  /** Called once, with the one line that says what happened. */
  onRemoved(err: MemberRemovedError): void;
}

/** Collects removal notices from peers and applies the trust rule; decides once. */
export class RemovalWatch {
  private readonly notices = new Map<NodeId, RemovalNotice>();
  private readonly ignoredLogged = new Set<string>();
  private decided = false;

  constructor(private readonly o: RemovalWatchOptions) {}

  get removed(): boolean {
    return this.decided;
  }

  /** A peer refused this member with a removal notice. */
  notice(peer: NodeId, notice: RemovalNotice): void {
    if (this.decided) return;
    const self = { id: this.o.selfId, clusterUid: this.o.clusterUid, commit: this.o.commit() };
    const v = judgeNotice(self, this.notices, peer, notice);
    if (v.ignored !== '') {
      const key = `${peer} ${v.ignored}`;
      if (!this.ignoredLogged.has(key) && this.ignoredLogged.size < 64) {
        this.ignoredLogged.add(key);
        this.o.log.warn({ peer, notice }, `node ${peer} says this member was removed; not believed: ${v.ignored}`);
      }
      return;
    }
    this.notices.set(peer, notice);
    if (!v.removed) {
      this.o.log.warn(
        { peer, index: notice.index },
        `node ${peer} says this member was removed from the cluster (index ${notice.index}); waiting to hear it from the leader or another member`,
      );
      return;
    }
    const by = [...this.notices].map(([p, n]) => `${p}${n.byLeader ? ' (the leader)' : ''}`).join(', ');
    const index = Math.min(...[...this.notices.values()].map((n) => n.index));
    this.decide(
      `this member (${this.o.selfId}) has been permanently removed from cluster ${this.o.clusterUid} ` +
        `(the configuration committed at index ${index}, as ${by} said)`,
    );
  }

  /** This member's own log: the removal is committed (and applied) here. */
  ownLog(index: number): void {
    if (this.decided) return;
    this.decide(
      `this member (${this.o.selfId}) has been permanently removed from cluster ${this.o.clusterUid} (by the configuration committed at index ${index} in its own log)`,
    );
  }

  private decide(what: string): void {
    this.decided = true;
    const err = new MemberRemovedError(
      `${what}: it stops, and its id can never rejoin (to use this host again, \`leasekv member add\` a new member under another id with an empty data dir)`,
    );
    this.o.log.error({ exitCode: EXIT_MEMBER_REMOVED }, err.message);
    this.o.onRemoved(err);
  }
}
