// Terms, campaigns, PreVote, and the follower's and candidate's roles. Raft §5.2, thesis §9.6
// (PreVote), plus the lease rules: a candidate waits out the old leases its voters report, and a
// follower remembers the lease its leader claims. Answering votes is in votes.ts.
import { transferSpan, observerSpan } from './lease.ts';
import type { Core } from './core.ts';
import { becomeLeader } from './leader.ts';
import { handleAppend, handleSnapshot } from './replication.ts';
import { becomeFollower } from './roles.ts';
import { isValidMessage } from './validate.ts';
import type { AppendRequest, Message, SnapshotRequest, VoteRequest, VoteResponse } from './types.ts';
import { handleVote, replyVote, voteBlocker } from './votes.ts';

/** Entry point for every message: term rules first (Figure 2 "all servers"), then the role. */
export function stepMessage(c: Core, m: Message, nowMs: number): void {
  // Any sender: a leader may have added us (or a voter) that our log does not show yet. Membership
  // decides what counts (votes from voters only, acknowledgements from tracked followers only).
  if (!isValidMessage(m, c.cfg.id)) return;
  if (m.term > c.term) {
    if (m.type === 'vote') {
      const blocked = voteBlocker(c, m, nowMs);
      // A vote we must refuse does not move our term either: a node outside the lease quorum
      // cannot disrupt a leader whose lease voters still honour (cf. etcd's "in lease" check).
      if (blocked !== null) return replyVote(c, m, false, blocked, nowMs);
      if (!m.preVote) becomeFollower(c, m.term, null, nowMs);
    } else if (m.type === 'voteResp' && m.preVote && m.granted && m.term === c.term + 1) {
      // A granted pre-vote for the term we would campaign in: not a newer term (yet).
    } else {
      const fromLeader = m.type === 'app' || m.type === 'snap' || m.type === 'timeoutNow';
      becomeFollower(c, m.term, fromLeader ? m.from : null, nowMs);
    }
  } else if (m.term < c.term) {
    // Tell a stale leader or pre-candidate about the newer term; drop everything else.
    if (m.type === 'app' || m.type === 'snap') {
      c.send(
        {
          type: 'appResp',
          from: c.cfg.id,
          to: m.from,
          term: c.term,
          success: false,
          matchIndex: 0,
          rejectHint: null,
          round: 0,
        },
        false,
      );
    } else if (m.type === 'vote' && m.preVote) {
      replyVote(c, m, false, `stale term ${m.term} < ${c.term}`, nowMs);
    }
    return;
  }
  c.stepRole(c, m, nowMs);
}

/** Follower and candidates: the election timer. A restarted node does not campaign in its hold. */
export function tickElection(c: Core, nowMs: number): void {
  if (nowMs < c.electionDeadlineMs) return;
  // Learners, removed nodes and nodes not yet told their configuration never campaign.
  if (!c.isVoter()) {
    c.resetElectionTimer(nowMs);
    return;
  }
  if (c.inRestartHold(nowMs)) {
    c.electionDeadlineMs = c.restartHoldUntilMs;
    return;
  }
  // Our own vote counts like any other: no campaign while we believe a lease may still run. With
  // the config inequality this only matters for a leader that claims a longer lease than ours.
  if (nowMs < c.oldLeaseUntilMs && c.cfg.mutant !== 'vote-inside-lease') {
    c.electionDeadlineMs = c.oldLeaseUntilMs;
    return;
  }
  campaign(c, false, nowMs);
}

/** PreVote first (thesis §9.6) unless this is a leadership transfer, which campaigns at once. */
export function campaign(c: Core, transfer: boolean, nowMs: number): void {
  c.event({ kind: 'election-timeout', term: c.term, preVote: !transfer });
  if (transfer) return becomeCandidate(c, true, nowMs);
  c.role = 'pre-candidate';
  c.leader = null;
  c.stepRole = stepCandidate;
  c.tickRole = tickElection;
  c.votes.clear();
  c.votes.set(c.cfg.id, true);
  c.resetElectionTimer(nowMs);
  c.event({ kind: 'role', role: 'pre-candidate', term: c.term, leader: null });
  if (c.votes.size >= c.quorum()) return becomeCandidate(c, false, nowMs);
  requestVotes(c, true, false);
}

function becomeCandidate(c: Core, transfer: boolean, nowMs: number): void {
  c.term += 1;
  c.votedFor = c.cfg.id;
  c.role = 'candidate';
  c.leader = null;
  c.stepRole = stepCandidate;
  c.tickRole = tickElection;
  c.votes.clear();
  c.votes.set(c.cfg.id, true);
  // Our own vote counts towards the majority, so our own belief about an old lease counts too.
  c.candidateWaitUntilMs = c.oldLeaseUntilMs;
  c.resetElectionTimer(nowMs);
  c.event({ kind: 'role', role: 'candidate', term: c.term, leader: null });
  if (c.votes.size >= c.quorum()) return becomeLeader(c, nowMs);
  requestVotes(c, false, transfer);
}

function requestVotes(c: Core, preVote: boolean, transfer: boolean): void {
  const term = preVote ? c.term + 1 : c.term;
  for (const to of c.voters()) {
    if (to === c.cfg.id) continue;
    const req: VoteRequest = {
      type: 'vote',
      from: c.cfg.id,
      to,
      term,
      preVote,
      transfer,
      lastLogIndex: c.log.lastIndex(),
      lastLogTerm: c.log.lastTerm(),
    };
    // A real request depends on our persisted term and self-vote.
    c.send(req, !preVote);
  }
}

function stepCandidate(c: Core, m: Message, nowMs: number): void {
  switch (m.type) {
    case 'app':
    case 'snap':
      // A leader of our term exists (Raft §5.2): follow it.
      becomeFollower(c, c.term, m.from, nowMs);
      return stepFollower(c, m, nowMs);
    case 'vote':
      return handleVote(c, m, nowMs);
    case 'voteResp':
      return handleVoteResponse(c, m, nowMs);
    default:
      return;
  }
}

function handleVoteResponse(c: Core, m: VoteResponse, nowMs: number): void {
  const pre = c.role === 'pre-candidate';
  if (m.preVote !== pre || m.term !== (pre ? c.term + 1 : c.term) || c.votes.has(m.from)) return;
  // Only the votes of voters in our configuration count (a learner's never does).
  if (!c.isVoter(m.from)) return;
  c.votes.set(m.from, m.granted);
  if (m.granted && !pre) {
    // The voter may know a lease that is still running; wait until it has certainly expired on
    // our clock before acquiring our own (docs/lease-safety.md §"The candidate's wait").
    c.candidateWaitUntilMs = Math.max(c.candidateWaitUntilMs, nowMs + transferSpan(c.cfg, m.oldLeaseRemainingMs));
  }
  let granted = 0;
  for (const v of c.votes.values()) if (v) granted++;
  const rejected = c.votes.size - granted;
  if (granted >= c.quorum()) {
    if (pre) becomeCandidate(c, false, nowMs);
    else becomeLeader(c, nowMs);
  } else if (rejected >= c.quorum()) {
    becomeFollower(c, c.term, null, nowMs);
  }
}

export function stepFollower(c: Core, m: Message, nowMs: number): void {
  switch (m.type) {
    case 'app':
    case 'snap':
      acceptLeader(c, m, nowMs);
      if (m.type === 'app') handleAppend(c, m);
      else handleSnapshot(c, m);
      return;
    case 'vote':
      return handleVote(c, m, nowMs);
    case 'timeoutNow':
      // Only our leader may hand over, only to a voter; a restarted node in its hold stays out of it.
      if (m.from === c.leader && c.isVoter() && !c.inRestartHold(nowMs)) campaign(c, true, nowMs);
      return;
    default:
      return;
  }
}

/** A message from the current leader: reset the election timer and remember the lease it claims. */
function acceptLeader(c: Core, m: AppendRequest | SnapshotRequest, nowMs: number): void {
  if (c.leader !== m.from) {
    c.leader = m.from;
    c.event({ kind: 'role', role: 'follower', term: c.term, leader: m.from });
  }
  c.resetElectionTimer(nowMs);
  if (m.leaseDurationMs <= 0) return;
  // Lengthened by the drift bound: our belief must not end before the leader's lease in true time.
  const untilMs = nowMs + observerSpan(c.cfg, m.leaseDurationMs);
  const isNew = c.oldLeaseLeader !== m.from || c.oldLeaseTerm !== m.term;
  if (untilMs > c.oldLeaseUntilMs || isNew) {
    c.oldLeaseUntilMs = Math.max(c.oldLeaseUntilMs, untilMs);
    c.oldLeaseLeader = m.from;
    c.oldLeaseTerm = m.term;
  }
  if (isNew) c.event({ kind: 'old-lease-seen', leader: m.from, term: m.term, untilMs: c.oldLeaseUntilMs });
}
