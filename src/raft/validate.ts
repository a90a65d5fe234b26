// Runtime validation of everything that arrives from another node. step() drops what fails here
// instead of throwing: a bad remote message is an operating condition, not a programmer error.
import type { Entry, Message, NodeId } from './types.ts';

const isIdx = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isDur = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

function validEntries(ents: unknown, prev: number, prevTerm: number, term: number): boolean {
  if (!Array.isArray(ents)) return false;
  let idx = prev;
  let t = prevTerm;
  for (const e of ents as unknown[]) {
    if (typeof e !== 'object' || e === null) return false;
    const x = e as Entry;
    if (!isIdx(x.index) || !isIdx(x.term) || x.index !== idx + 1 || x.term < t || x.term > term) return false;
    if ((x.type !== 0 && x.type !== 1 && x.type !== 2) || !(x.data instanceof Uint8Array)) return false;
    idx = x.index;
    t = x.term;
  }
  return true;
}

const isIdList = (v: unknown): boolean => Array.isArray(v) && v.every((id) => typeof id === 'string' && id.length > 0);

/** True if `m` is a well-formed message from another node to `self` (membership is checked by the roles). */
export function isValidMessage(m: unknown, self: NodeId): m is Message {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Message;
  if (x.to !== self || x.from === self || typeof x.from !== 'string' || x.from.length === 0 || !isIdx(x.term))
    return false;
  switch (x.type) {
    case 'vote':
      return isBool(x.preVote) && isBool(x.transfer) && isIdx(x.lastLogIndex) && isIdx(x.lastLogTerm) && x.term >= 1;
    case 'voteResp':
      return isBool(x.preVote) && isBool(x.granted) && isDur(x.oldLeaseRemainingMs);
    case 'app':
      return (
        isIdx(x.prevLogIndex) &&
        isIdx(x.prevLogTerm) &&
        x.prevLogTerm <= x.term &&
        isIdx(x.commit) &&
        isDur(x.leaseDurationMs) &&
        isIdx(x.round) &&
        validEntries(x.entries, x.prevLogIndex, x.prevLogTerm, x.term)
      );
    case 'appResp':
      return (
        isBool(x.success) &&
        isIdx(x.matchIndex) &&
        isIdx(x.round) &&
        (x.rejectHint === null ||
          (typeof x.rejectHint === 'object' && isIdx(x.rejectHint.index) && isIdx(x.rejectHint.term)))
      );
    case 'snap':
      return (
        typeof x.snapshot === 'object' &&
        x.snapshot !== null &&
        isIdx(x.snapshot.index) &&
        x.snapshot.index >= 1 &&
        isIdx(x.snapshot.term) &&
        x.snapshot.term <= x.term &&
        typeof x.snapshot.confState === 'object' &&
        x.snapshot.confState !== null &&
        isIdList(x.snapshot.confState.voters) &&
        x.snapshot.confState.voters.length > 0 &&
        isIdList(x.snapshot.confState.learners) &&
        (x.snapshot.confState.removed === undefined || isIdList(x.snapshot.confState.removed)) &&
        isDur(x.leaseDurationMs) &&
        isIdx(x.round)
      );
    case 'timeoutNow':
      return true;
    default:
      return false;
  }
}
