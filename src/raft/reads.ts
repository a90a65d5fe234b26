// Linearizable reads: the lease fast path and ReadIndex (thesis §6.4).
import type { Core } from './core.ts';
import { broadcastRound } from './leader.ts';
import type { ReadFailure } from './types.ts';

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

export function failPendingReads(c: Core, reason: ReadFailure['reason']): void {
  for (const r of c.pendingReads) c.readFailures.push({ requestId: r.requestId, reason, leaderHint: c.leader === c.cfg.id ? null : c.leader });
  c.pendingReads = [];
  c.readRoundInFlight = 0;
}
