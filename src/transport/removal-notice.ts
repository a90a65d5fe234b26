// The refusal that tells a removed member it was removed (docs/design.md, "A removed member stops").
//
// A member removed while it was down or cut off never receives the entry that removes it: it would
// run for ever, pre-voting and refused. When it dials a peer whose COMMITTED membership lists its id
// as removed, the peer refuses with this code instead of 'unknown-member'. The code carries what the
// removed member checks before it believes it: the cluster id, the member id the peer means, the
// log index of the committed configuration that removed it (or an index at or after it, when the
// peer no longer knows the exact one), and whether the peer was the leader when it answered.
//
// It travels in the refuse frame's code string, so the wire format (PROTOCOL_VERSION) is unchanged:
// a member of an older version treats an unknown code as a plain refusal and runs on as before.
import type { NodeId } from '../raft/types.ts';

export const REMOVED_CODE = 'removed';

export interface RemovalNotice {
  readonly clusterUid: string;
  /** The member the refusing peer says was removed (the dialler checks it is itself). */
  readonly member: NodeId;
  /** The committed configuration at this index (or an earlier one) lists `member` as removed. */
  readonly index: number;
  /** The refusing peer was the leader when it answered. */
  readonly byLeader: boolean;
}

/** `removed CLUSTER-UID MEMBER INDEX leader|member` (ids and uids never hold spaces). */
export function encodeRemovedCode(n: RemovalNotice): string {
  return `${REMOVED_CODE} ${n.clusterUid} ${n.member} ${n.index} ${n.byLeader ? 'leader' : 'member'}`;
}

/** The notice in a refusal's code; null for any other code, or one that is not exactly well formed. */
export function parseRemovedCode(code: string): RemovalNotice | null {
  const parts = code.split(' ');
  if (parts.length !== 5 || parts[0] !== REMOVED_CODE) return null;
  const [, clusterUid, member, indexText, by] = parts as [string, string, string, string, string];
  const index = Number(indexText);
  if (clusterUid === '' || member === '' || !/^[1-9][0-9]{0,15}$/.test(indexText) || !Number.isSafeInteger(index))
    return null;
  if (by !== 'leader' && by !== 'member') return null;
  return { clusterUid, member, index, byLeader: by === 'leader' };
}

/** What a refusal's code tells this member's identity (options.ts, PeerIdentity); other codes are only logged. */
export function noteRefusal(
  identity: {
    onRefused(peer: NodeId, reason: string): void;
    onRemoved?(peer: NodeId, notice: RemovalNotice, reason: string): void;
  },
  peer: NodeId,
  code: string,
  reason: string,
): void {
  if (code === 'identity') return identity.onRefused(peer, reason);
  const removed = parseRemovedCode(code);
  if (removed !== null) identity.onRemoved?.(peer, removed, reason);
}
