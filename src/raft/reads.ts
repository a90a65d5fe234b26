// Heartbeat rounds and what a majority acknowledging one releases: the lease (acquired, renewed,
// or lost: step down) and the reads waiting for it. Linearizable reads: the lease fast path and
// ReadIndex (thesis §6.4).
import type { Core } from './core.ts';
import { sendAppends, sendHeartbeat } from './replication.ts';
import { stepDown } from './roles.ts';

/**
 * Lease read: valid lease at the time of serving, and an entry of this term committed (until then
 * the commit index may lag what the previous leader committed). Allocates nothing.
 */
export function leaseRead(c: Core, nowMs: number): number | null {
  const lease = c.lease;
  if (c.role !== 'leader' || lease === null || !lease.isValid(nowMs)) return null;
  // MUTANT read-before-noop: serve before this term's NO-OP is committed.
  if (c.cfg.mutant !== 'read-before-noop' && c.log.committed < c.noopIndex) return null;
  return c.log.committed;
}

/** `useLease` false: always confirm leadership with a round (hosts that run with lease reads off). */
export function readIndex(c: Core, requestId: number, nowMs: number, useLease = true): void {
  if (c.role !== 'leader' || c.lease === null) {
    c.readFailures.push({ requestId, reason: 'not-leader', leaderHint: c.leader });
    return;
  }
  const fast = useLease ? leaseRead(c, nowMs) : null;
  if (fast !== null) {
    c.readStates.push({ requestId, index: fast });
    return;
  }
  if (c.pendingReads.length >= c.cfg.maxPendingReads) {
    c.readFailures.push({ requestId, reason: 'overloaded', leaderHint: c.cfg.id });
    return;
  }
  // The read needs a round sent AFTER it arrived. One read round is in flight at a time; reads that
  // arrive meanwhile wait for the next round (started when it completes, or by the heartbeat).
  let minRound: number;
  if (c.readRoundInFlight === 0) {
    minRound = c.lease.round + 1;
    c.pendingReads.push({ requestId, index: c.log.committed, minRound });
    c.readRoundInFlight = broadcastRound(c, nowMs);
  } else {
    minRound = c.lease.round + 1;
    c.pendingReads.push({ requestId, index: c.log.committed, minRound });
  }
  releaseReads(c, nowMs);
}

/** Answers the reads whose round a majority acknowledged, once this term's NO-OP is committed. */
export function releaseReads(c: Core, nowMs: number): void {
  const lease = c.lease;
  if (c.role !== 'leader' || lease === null) return;
  if (c.readRoundInFlight !== 0 && lease.quorumRound >= c.readRoundInFlight) c.readRoundInFlight = 0;
  if (c.pendingReads.length === 0 || c.log.committed < c.noopIndex) return;
  let done = 0;
  for (const r of c.pendingReads) {
    if (r.minRound > lease.quorumRound) break; // minRound is non-decreasing along the queue
    // Everything committed before the read arrived is at or below max(commit then, NO-OP).
    c.readStates.push({ requestId: r.requestId, index: Math.max(r.index, c.noopIndex) });
    done++;
  }
  if (done > 0) c.pendingReads.splice(0, done);
  const waiting = c.pendingReads[0];
  if (waiting !== undefined && c.readRoundInFlight === 0 && waiting.minRound > lease.round) {
    c.readRoundInFlight = broadcastRound(c, nowMs);
  }
}

//END

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
    sendAppends(c, id, pr);
    // Always a heartbeat too, even when appends carry the round: an append's acknowledgement waits
    // for the follower's fsync, a heartbeat's does not, so renewal never queues behind a busy disk
    // under a steady stream of writes (docs/lease-notes.md case 10). Sent after the appends, it
    // checks the log at the point they reach.
    sendHeartbeat(c, id, pr);
  }
  if (lease.quorumRound > before) onQuorumRound(c, nowMs); // single-node cluster
  return round;
}

/** A majority acknowledged a newer round: the lease may be acquired or renewed, reads released. */
export function onQuorumRound(c: Core, nowMs: number): void {
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
