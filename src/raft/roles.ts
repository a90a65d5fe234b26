// The transition every role can make: back to follower (a newer term, a lost lease, a failed
// CheckQuorum, a leader of our term found). Below the role modules, which all call it; the
// follower's own behaviour lives in election.ts and is wired in as `c.followerRole` by RaftNode.
import type { Core } from './core.ts';
import type { NodeId } from './types.ts';

export function becomeFollower(c: Core, term: number, leader: NodeId | null, nowMs: number): void {
  if (c.role === 'leader') leaveLeadership(c, nowMs);
  if (term !== c.term) {
    c.term = term;
    c.votedFor = null;
  }
  c.role = 'follower';
  c.leader = leader;
  c.stepRole = c.followerRole.step;
  c.tickRole = c.followerRole.tick;
  c.votes.clear();
  c.resetElectionTimer(nowMs);
  c.event({ kind: 'role', role: 'follower', term: c.term, leader });
}

export function stepDown(c: Core, reason: string, nowMs: number): void {
  c.event({ kind: 'step-down', term: c.term, reason });
  becomeFollower(c, c.term, null, nowMs);
}

/** Cleanup when this node stops being leader, for whatever reason. */
function leaveLeadership(c: Core, nowMs: number): void {
  const lease = c.lease;
  if (lease !== null) {
    // What is left of our own lease is now an "old lease" we know of: pass it on to candidates.
    if (lease.untilMs > c.oldLeaseUntilMs) {
      c.oldLeaseUntilMs = lease.untilMs;
      c.oldLeaseLeader = c.cfg.id;
      c.oldLeaseTerm = c.term;
    }
    // So is the previous leader's lease that we were still waiting out: a leader that steps down
    // quickly must pass on what its voters told it, as they do (docs/lease-safety.md, "Two leader
    // changes back to back").
    if (lease.waitUntilMs > c.oldLeaseUntilMs) c.oldLeaseUntilMs = lease.waitUntilMs;
    if (lease.isValid(nowMs)) c.event({ kind: 'lease-lost', term: c.term, reason: 'no longer leader' });
  }
  failPendingReads(c);
  c.lease = null;
  c.progress.clear();
  c.transferTarget = null;
  c.transferDeadlineMs = Number.POSITIVE_INFINITY;
  c.heartbeatDeadlineMs = Number.POSITIVE_INFINITY;
  c.checkQuorumDeadlineMs = Number.POSITIVE_INFINITY;
}

/** Reads waiting for a round fail: a leader that stepped down can no longer confirm them. */
function failPendingReads(c: Core): void {
  for (const r of c.pendingReads)
    c.readFailures.push({
      requestId: r.requestId,
      reason: 'stepped-down',
      leaderHint: c.leader === c.cfg.id ? null : c.leader,
    });
  c.pendingReads = [];
  c.readRoundInFlight = 0;
}
