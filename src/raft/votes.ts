// Votes (Raft §5.2, §5.4.1; thesis §9.6 PreVote) and the lease rule on them: a node that believes
// a leader's lease may still run votes for nobody else. Answered in every role.
import type { Core } from './core.ts';
import type { VoteRequest, VoteResponse } from './types.ts';

/**
 * Why this node must refuse `m` whatever the logs say, or null.
 * - Restart hold: it may have acknowledged a lease it no longer remembers.
 * - Lease: it believes some leader's lease may still be valid; electing anyone else now could let
 *   that leader serve a lease read that misses the new leader's writes. A transfer request is the
 *   exception: the leader gave its lease up before sending TimeoutNow.
 */
export function voteBlocker(c: Core, m: VoteRequest, nowMs: number): string | null {
  if (c.inRestartHold(nowMs)) return 'restarted recently: holding votes until any forgotten lease has expired';
  if (m.transfer) return null;
  if (c.role === 'leader' && c.lease !== null && !c.lease.givenUp)
    return 'this node is the leader and holds or is acquiring a lease';
  // MUTANT vote-inside-lease: followers vote even while believing a lease is valid.
  if (c.cfg.mutant === 'vote-inside-lease') return null;
  if (nowMs < c.oldLeaseUntilMs)
    return `lease of leader ${c.oldLeaseLeader ?? '?'} (term ${c.oldLeaseTerm}) may still be valid`;
  return null;
}

export function handleVote(c: Core, m: VoteRequest, nowMs: number): void {
  let reason = voteBlocker(c, m, nowMs);
  if (reason === null) {
    // One vote per term (§5.2); and, as in etcd, no vote in a term whose leader we already follow.
    // A pre-vote is for a future term, so only the log check applies to it.
    const canVote =
      c.votedFor === m.from || (c.votedFor === null && c.leader === null) || (m.preVote && m.term > c.term);
    if (!canVote)
      reason =
        c.votedFor !== null
          ? `already voted for ${c.votedFor} in term ${c.term}`
          : `knows leader ${c.leader ?? '?'} of term ${c.term}`;
    else if (!c.log.isUpToDate(m.lastLogIndex, m.lastLogTerm)) reason = 'candidate log is not up to date';
  }
  const granted = reason === null;
  if (granted && !m.preVote) {
    c.votedFor = m.from;
    c.resetElectionTimer(nowMs);
  }
  replyVote(c, m, granted, reason ?? 'granted', nowMs);
}

export function replyVote(c: Core, m: VoteRequest, granted: boolean, reason: string, nowMs: number): void {
  c.event({
    kind: 'vote',
    candidate: m.from,
    term: m.term,
    granted,
    reason: m.preVote ? `pre-vote: ${reason}` : reason,
  });
  const resp: VoteResponse = {
    type: 'voteResp',
    from: c.cfg.id,
    to: m.from,
    // A grant speaks for the requested term; a refusal tells our real term, so that a candidate
    // behind us learns it, while one refused only for a lease is not pushed to a newer term.
    term: granted ? m.term : c.term,
    preVote: m.preVote,
    granted,
    oldLeaseRemainingMs: Math.max(0, c.oldLeaseUntilMs - nowMs),
  };
  // A granted real vote must be durable before it leaves (votedFor).
  c.send(resp, !m.preVote);
}
