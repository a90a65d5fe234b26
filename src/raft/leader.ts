// The leader's role: becoming leader (NO-OP, old-lease wait), heartbeat rounds that renew the lease,
// CheckQuorum, lease upkeep and step-down, and leadership transfer.
import type { Core } from './core.ts';
import { becomeFollower, handleVote } from './election.ts';
import { LeaderLease } from './lease.ts';
import { caughtUp } from './membership.ts';
import { Progress } from './progress.ts';
import { failPendingReads, releaseReads } from './reads.ts';
import { handleAppendResponse, noopEntry, sendAppends, sendHeartbeat } from './replication.ts';
import type { Message, NodeId } from './types.ts';

export function becomeLeader(c: Core, nowMs: number): void {
  c.role = 'leader';
  c.leader = c.cfg.id;
  c.stepRole = stepLeader;
  c.tickRole = tickLeader;
  c.votes.clear();
  // MUTANT no-old-lease-wait: acquire the lease without waiting for the old leader's to expire.
  const waitUntilMs = c.cfg.mutant === 'no-old-lease-wait' ? Number.NEGATIVE_INFINITY : c.candidateWaitUntilMs;
  // MUTANT lease-one-config: the lease keeps counting the voters this leader was elected with.
  const frozen = c.voters().slice();
  const voters = c.cfg.mutant === 'lease-one-config' ? (): readonly NodeId[] => frozen : (): readonly NodeId[] => c.voters();
  c.lease = new LeaderLease(c.cfg, c.cfg.id, voters, waitUntilMs);
  c.lastReportedLeaseUntilMs = Number.NEGATIVE_INFINITY;
  c.progress.clear();
  const cs = c.conf();
  for (const p of [...cs.voters, ...cs.learners]) if (p !== c.cfg.id) c.progress.set(p, new Progress(c.log.lastIndex() + 1, nowMs));
  c.confRound = 0;
  c.transferTarget = null;
  c.transferDeadlineMs = Number.POSITIVE_INFINITY;
  c.transferSent = false;
  c.pendingReads = [];
  c.readRoundInFlight = 0;
  c.event({ kind: 'role', role: 'leader', term: c.term, leader: c.cfg.id });
  if (waitUntilMs > nowMs) c.event({ kind: 'waiting-old-lease', term: c.term, untilMs: waitUntilMs });
  // Raft §8: an entry of the new term, so that commitment (and lease reads) can start.
  c.noopIndex = c.log.lastIndex() + 1;
  c.log.append(noopEntry(c.noopIndex, c.term));
  c.checkQuorumDeadlineMs = nowMs + c.cfg.electionTimeoutMinMs;
  broadcastRound(c, nowMs);
}

/** Cleanup when this node stops being leader, for whatever reason. */
export function leaveLeadership(c: Core, nowMs: number): void {
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
  failPendingReads(c, 'stepped-down');
  c.lease = null;
  c.progress.clear();
  c.transferTarget = null;
  c.transferDeadlineMs = Number.POSITIVE_INFINITY;
  c.heartbeatDeadlineMs = Number.POSITIVE_INFINITY;
  c.checkQuorumDeadlineMs = Number.POSITIVE_INFINITY;
}

export function stepDown(c: Core, reason: string, nowMs: number): void {
  c.event({ kind: 'step-down', term: c.term, reason });
  becomeFollower(c, c.term, null, nowMs);
}

/** Starts heartbeat round `r`: every follower gets an AppendRequest stamped with r. */
export function broadcastRound(c: Core, nowMs: number): number {
  const lease = c.lease;
  if (lease === null) return 0;
  const before = lease.quorumRound;
  const round = lease.startRound(nowMs);
  c.heartbeatDeadlineMs = nowMs + c.cfg.heartbeatIntervalMs;
  const retransmitMs = c.cfg.electionTimeoutMinMs / 2;
  for (const [id, pr] of c.progress) {
    // Retransmission: a follower that made no progress for a while lost something; probe again.
    const stuckMs = pr.state === 'snapshot' ? c.cfg.electionTimeoutMinMs : retransmitMs;
    if (pr.match < c.log.lastIndex() && nowMs - pr.lastProgressMs >= stuckMs) {
      pr.becomeProbe(pr.match + 1);
      pr.lastProgressMs = nowMs;
    }
    const sentBefore = c.msgs.length;
    sendAppends(c, id, pr);
    if (c.msgs.length === sentBefore) sendHeartbeat(c, id, pr);
  }
  if (lease.quorumRound > before) onQuorumRound(c, nowMs); // single-node cluster
  return round;
}

/** A majority acknowledged a newer round: the lease may be acquired or renewed, reads released. */
function onQuorumRound(c: Core, nowMs: number): void {
  checkLease(c, nowMs);
  if (c.role === 'leader') releaseReads(c, nowMs);
}

/** Reports lease acquisition and renewal; steps down when the lease ran out unrenewed. */
export function checkLease(c: Core, nowMs: number): void {
  const lease = c.lease;
  if (lease === null || lease.givenUp) return;
  if (!lease.acquired) {
    if (lease.isValid(nowMs)) {
      lease.acquired = true;
      c.lastReportedLeaseUntilMs = lease.untilMs;
      c.event({ kind: 'lease-acquired', term: c.term, untilMs: lease.untilMs });
    }
    return;
  }
  if (nowMs >= lease.untilMs) {
    c.event({ kind: 'lease-lost', term: c.term, reason: 'not renewed in time' });
    stepDown(c, 'lease renewal failed, stepping down', nowMs);
    return;
  }
  if (lease.untilMs > c.lastReportedLeaseUntilMs) {
    c.lastReportedLeaseUntilMs = lease.untilMs;
    c.event({ kind: 'lease-renewed', term: c.term, untilMs: lease.untilMs });
  }
}

function tickLeader(c: Core, nowMs: number): void {
  checkLease(c, nowMs);
  if (c.role !== 'leader') return;
  if (nowMs >= c.transferDeadlineMs) {
    // MUTANT transfer-resumes-lease (etcd-io/raft#99): lead on with the lease as if never given up.
    if (c.cfg.mutant === 'transfer-resumes-lease' && c.lease !== null && c.isVoter()) {
      c.lease.givenUp = false;
      c.transferTarget = null;
      c.transferDeadlineMs = Number.POSITIVE_INFINITY;
      return;
    }
    // The target did not take over. Our lease is given up for this term; a fresh election (which
    // we may well win) restores one. See docs/lease-safety.md §"Leadership transfer".
    return stepDown(c, `leadership transfer to ${c.transferTarget ?? '?'} timed out, stepping down`, nowMs);
  }
  if (nowMs >= c.checkQuorumDeadlineMs) {
    let active = c.isVoter() ? 1 : 0;
    for (const [id, pr] of c.progress) {
      if (pr.recentActive && c.isVoter(id)) active++;
      pr.recentActive = false;
    }
    if (active < c.quorum()) return stepDown(c, `check quorum failed: heard from ${active} of ${c.voters().length} voters`, nowMs);
    c.checkQuorumDeadlineMs = nowMs + c.cfg.electionTimeoutMinMs;
  }
  if (nowMs >= c.heartbeatDeadlineMs) broadcastRound(c, nowMs);
}

export function stepLeader(c: Core, m: Message, nowMs: number): void {
  if (m.type === 'vote') return handleVote(c, m, nowMs);
  if (m.type !== 'appResp') return;
  const pr = c.progress.get(m.from);
  const lease = c.lease;
  if (pr === undefined || lease === null) return;
  pr.recentActive = true;
  pr.lastHeardMs = nowMs;
  // Any answer in our term (success or log mismatch) shows the follower accepted the round.
  if (lease.onAck(m.from, m.round, nowMs)) {
    onQuorumRound(c, nowMs);
    if (c.role !== 'leader') return;
  }
  handleAppendResponse(c, m, pr, nowMs);
  if (c.role === 'leader') maybeSendTimeoutNow(c);
}

/**
 * Leadership transfer (thesis §3.10) with the lease rule of docs/lease-notes.md case 7: the lease is given
 * up FIRST, so no lease read is served while the target may already be winning votes. The target
 * must be a caught-up voter (membership.ts, caughtUp); null picks the most caught-up one.
 */
export function transferLeadership(c: Core, target: NodeId | null, nowMs: number): boolean {
  if (c.role !== 'leader' || c.lease === null) return false;
  const t = target ?? bestTransferTarget(c, nowMs);
  if (t === null) return false;
  if (c.transferTarget !== null) return c.transferTarget === t;
  const pr = c.progress.get(t);
  if (pr === undefined || !c.isVoter(t) || !caughtUp(c, pr, nowMs, c.cfg.maxEntriesPerAppend)) return false;
  startTransfer(c, t, nowMs, c.cfg.mutant === 'transfer-keeps-lease');
  return true;
}

/** The caught-up voter with the highest match index, or null. */
export function bestTransferTarget(c: Core, nowMs: number): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const [id, pr] of c.progress) {
    if (c.isVoter(id) && caughtUp(c, pr, nowMs, c.cfg.maxEntriesPerAppend) && pr.match > bestMatch) [best, bestMatch] = [id, pr.match];
  }
  return best;
}

/**
 * This leader's own removal is committed: it hands leadership to a voter (giving its lease up
 * first, as in any transfer), or steps down at once when there is nobody to hand over to. Either
 * way its lease ends here; as a non-voter it never campaigns again.
 */
export function leaveAfterRemoval(c: Core, nowMs: number): void {
  if (c.role !== 'leader' || c.transferTarget !== null) return;
  let target: NodeId | null = null;
  let bestMatch = -1;
  for (const [id, pr] of c.progress) {
    if (c.isVoter(id) && nowMs - pr.lastHeardMs < c.cfg.electionTimeoutMinMs && pr.match > bestMatch) [target, bestMatch] = [id, pr.match];
  }
  if (target === null) return stepDown(c, 'removed from the configuration', nowMs);
  // MUTANT removed-leader-keeps-lease: the removed leader keeps serving lease reads while it hands over.
  startTransfer(c, target, nowMs, c.cfg.mutant === 'removed-leader-keeps-lease');
}

function startTransfer(c: Core, target: NodeId, nowMs: number, keepLease: boolean): void {
  const lease = c.lease;
  if (lease === null) return;
  // MUTANT transfer-keeps-lease / removed-leader-keeps-lease: hand over while still serving lease reads.
  if (!keepLease) {
    if (lease.isValid(nowMs)) c.event({ kind: 'lease-lost', term: c.term, reason: `given up for transfer to ${target}` });
    lease.givenUp = true;
    // We vote for the target too: report our own lease to it like any other old lease.
    if (lease.untilMs > c.oldLeaseUntilMs) {
      c.oldLeaseUntilMs = lease.untilMs;
      c.oldLeaseLeader = c.cfg.id;
      c.oldLeaseTerm = c.term;
    }
  }
  c.transferTarget = target;
  c.transferSent = false;
  c.transferDeadlineMs = nowMs + c.cfg.electionTimeoutMinMs;
  const pr = c.progress.get(target);
  if (pr !== undefined && pr.match < c.log.lastIndex()) {
    sendAppends(c, target, pr);
    sendHeartbeat(c, target, pr); // finds out at once whether appends to it were lost
  }
  maybeSendTimeoutNow(c);
}

function maybeSendTimeoutNow(c: Core): void {
  const t = c.transferTarget;
  if (t === null || c.transferSent) return;
  const pr = c.progress.get(t);
  if (pr === undefined || pr.match < c.log.lastIndex()) return;
  c.transferSent = true;
  c.send({ type: 'timeoutNow', from: c.cfg.id, to: t, term: c.term }, false);
}

