// The leader's role: becoming leader (NO-OP, old-lease wait), CheckQuorum and lease upkeep, the
// answers to its AppendRequests and the commit rule (Raft §5.3, §5.4.2: only entries of the current
// term commit by counting), and leadership transfer. Heartbeat rounds are in reads.ts.
import { quorumValue } from './confchange.ts';
import type { Core } from './core.ts';
import { LeaderLease } from './lease.ts';
import { caughtUp } from './membership.ts';
import { Progress } from './progress.ts';
import { broadcastRound, checkLease, onQuorumRound, releaseReads } from './reads.ts';
import { noopEntry, sendAppends, sendAppendsAfterAck, sendHeartbeat } from './replication.ts';
import { stepDown } from './roles.ts';
import type { AppendResponse, Message, NodeId } from './types.ts';
import { handleVote } from './votes.ts';

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
  const voters =
    c.cfg.mutant === 'lease-one-config' ? (): readonly NodeId[] => frozen : (): readonly NodeId[] => c.voters();
  c.lease = new LeaderLease(c.cfg, c.cfg.id, voters, waitUntilMs);
  c.lastReportedLeaseUntilMs = Number.NEGATIVE_INFINITY;
  c.progress.clear();
  const cs = c.conf();
  for (const p of [...cs.voters, ...cs.learners])
    if (p !== c.cfg.id) c.progress.set(p, new Progress(c.log.lastIndex() + 1, nowMs));
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

function tickLeader(c: Core, nowMs: number): void {
  checkLease(c, nowMs);
  if (c.role !== 'leader') return;
  if (nowMs >= c.transferDeadlineMs) {
    // MUTANT transfer-resumes-lease (etcd-io/raft#99): lead on with the lease as if never given up.
    if (c.cfg.mutant === 'transfer-resumes-lease' && c.lease !== null && c.isVoter()) {
      c.lease.resumeAfterTransfer();
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
    if (active < c.quorum())
      return stepDown(c, `check quorum failed: heard from ${active} of ${c.voters().length} voters`, nowMs);
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

/** The replication half of an AppendResponse (the lease half is in stepLeader). */
function handleAppendResponse(c: Core, m: AppendResponse, pr: Progress, nowMs: number): void {
  if (m.success) {
    if (m.round > pr.ackRound) pr.ackRound = m.round;
    if (pr.onAck(m.matchIndex, nowMs)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
      maybeCommit(c, nowMs);
      if (c.role !== 'leader') return;
    }
    // Any success shows the follower's log holds what the request checked (a heartbeat checks the
    // point our appends reach): nothing was lost, even if its disk is slow to make it durable and
    // match lags. Lost appends show up as a heartbeat's rejection instead. So only a follower that
    // answers no round successfully is re-probed (reads.ts, broadcastRound). A follower waiting for
    // a snapshot keeps its own, longer clock: the transfer itself may be what was lost.
    if (pr.state === 'replicate' || pr.match >= c.log.lastIndex()) pr.lastProgressMs = nowMs;
    return sendAppendsAfterAck(c, m.from, pr, nowMs);
  } else {
    if (m.matchIndex >= pr.next) return;
    if (m.matchIndex <= pr.match) {
      // A rejection for a point at or below what we know matches is stale (reordered): ignore it —
      // unless it answers a request of a later round than any acknowledged, which means the follower
      // lost its log (wiped and rejoined under the same id); ignoring that would starve it forever.
      if (m.round <= pr.ackRound) return;
      pr.forgetMatch();
    }
    c.event({ kind: 'append-rejected', from: m.from, term: c.term, index: m.matchIndex });
    pr.becomeProbe(nextAfterReject(c, m));
  }
  sendAppends(c, m.from, pr);
}

/** Fast backtracking (Raft §5.3 optimization): skip a whole conflicting term per round trip. */
function nextAfterReject(c: Core, m: AppendResponse): number {
  const rejected = m.matchIndex;
  const h = m.rejectHint;
  let next: number;
  if (h === null) next = rejected;
  else if (h.term === 0) next = h.index;
  else {
    const li = c.log.lastIndexOfTerm(h.term);
    next = li > 0 ? li + 1 : h.index;
  }
  return Math.max(1, Math.min(next, rejected));
}

/**
 * The commit rule: the highest index stored on a majority (the leader counting only what its own
 * disk holds), and only if that entry is of the current term (Raft §5.4.2, Figure 8).
 */
export function maybeCommit(c: Core, nowMs: number): void {
  // Counted over the voters in force (learners never count; a leader removing itself does not).
  const own = Math.min(c.log.stabled, c.log.lastIndex());
  const n = quorumValue(c.voters(), (id) => (id === c.cfg.id ? own : (c.progress.get(id)?.match ?? 0)));
  if (n <= c.log.committed || c.log.term(n) !== c.term) return;
  c.log.commitTo(n);
  c.event({ kind: 'commit', index: n, term: c.term });
  releaseReads(c, nowMs);
  // Our own removal is committed: hand over and leave (thesis §4.2.2).
  if (c.role === 'leader' && !c.isVoter() && c.log.committed >= c.log.conf.lastChangeIndex())
    leaveAfterRemoval(c, nowMs);
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
    if (c.isVoter(id) && caughtUp(c, pr, nowMs, c.cfg.maxEntriesPerAppend) && pr.match > bestMatch)
      [best, bestMatch] = [id, pr.match];
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
    if (c.isVoter(id) && nowMs - pr.lastHeardMs < c.cfg.electionTimeoutMinMs && pr.match > bestMatch)
      [target, bestMatch] = [id, pr.match];
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
    if (lease.isValid(nowMs))
      c.event({ kind: 'lease-lost', term: c.term, reason: `given up for transfer to ${target}` });
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
