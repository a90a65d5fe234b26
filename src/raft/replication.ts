// Log replication: the leader's AppendRequests under flow control and the follower's side of them
// (Raft §5.3). The leader's handling of the answers and the commit rule are in leader.ts.
import type { Core } from './core.ts';
import { EntryType } from './types.ts';
import type { AppendRequest, AppendResponse, Entry, LogRead, NodeId, ProposeResult, SnapshotRequest } from './types.ts';
import type { Progress } from './progress.ts';

export function proposeEntries(c: Core, data: readonly Uint8Array[]): ProposeResult {
  // No proposals while handing leadership over: the target must catch up to a fixed point.
  if (c.role !== 'leader' || c.transferTarget !== null) {
    return { ok: false, leaderHint: c.role === 'leader' ? c.transferTarget : c.leader };
  }
  const first = c.log.lastIndex() + 1;
  for (const d of data) c.log.append({ index: c.log.lastIndex() + 1, term: c.term, type: EntryType.Normal, data: d });
  // The AppendRequests go out when the host next takes the outbox (flushAppends): every proposal
  // made until then rides in the same request per follower, and is acknowledged once.
  markWaiting(c);
  return { ok: true, index: first, term: c.term };
}

function markWaiting(c: Core): void {
  if (!c.appendsPending) c.appendsWaitingSinceMs = c.nowMs();
  c.appendsPending = true;
}

/**
 * Sends the appends that proposals made since the outbox was last taken are waiting for — except to
 * a follower whose hold (holdAppends) has not ended: those stay pending for a later turn.
 */
export function flushAppends(c: Core): void {
  if (!c.appendsPending) return;
  c.appendsPending = false;
  if (c.role !== 'leader') return;
  const nowMs = c.nowMs();
  let held = false;
  for (const [id, pr] of c.progress) {
    if (holdAppends(c, pr, nowMs)) held = true;
    else sendAppends(c, id, pr);
  }
  if (held) c.appendsPending = true;
  else c.appendsWaitingSinceMs = Number.POSITIVE_INFINITY;
}

/**
 * The coalescing rule (session 13, cfg.appendHoldMs): new entries for a follower in the replicate
 * state wait while an AppendRequest to it is in flight, fewer than appendHoldEntries are waiting,
 * the oldest waiting proposal is younger than the hold, and no leadership transfer is under way.
 * Holding an append is only a delay the network could have made (heartbeats and lease rounds never
 * wait), so it changes no safety argument; the hold is bounded, and nextTickAtMs wakes the host
 * when it ends.
 */
export function holdAppends(c: Core, pr: Progress, nowMs: number): boolean {
  const holdMs = c.cfg.appendHoldMs;
  return (
    holdMs > 0 &&
    pr.state === 'replicate' &&
    pr.inflight.length > 0 &&
    c.transferTarget === null &&
    c.log.lastIndex() - pr.next + 1 < c.cfg.appendHoldEntries &&
    nowMs < c.appendsWaitingSinceMs + holdMs
  );
}

/** After a follower's successful answer: what it still lacks goes now, unless its hold continues. */
export function sendAppendsAfterAck(c: Core, to: NodeId, pr: Progress, nowMs: number): void {
  if (pr.next > c.log.lastIndex()) return;
  if (holdAppends(c, pr, nowMs)) return markWaiting(c);
  sendAppends(c, to, pr);
}

/** Sends as many AppendRequests (or a SnapshotRequest) as flow control allows. */
export function sendAppends(c: Core, to: NodeId, pr: Progress): void {
  while (pr.canSend(c.cfg.maxInflightAppends) && pr.next <= c.log.lastIndex()) {
    if (!sendOneAppend(c, to, pr)) return;
  }
}

function sendOneAppend(c: Core, to: NodeId, pr: Progress): boolean {
  const prev = pr.next - 1;
  const prevTerm = c.log.term(prev);
  if (prevTerm === null) {
    // The entry the follower needs next was compacted away: it needs the snapshot.
    const snap = c.log.snapshot;
    if (snap === null) return false;
    pr.becomeSnapshot(snap.index);
    const m: SnapshotRequest = {
      type: 'snap',
      from: c.cfg.id,
      to,
      term: c.term,
      snapshot: snap,
      leaseDurationMs: c.claimedLeaseMs(),
      round: c.lease === null ? 0 : c.lease.round,
    };
    c.send(m, false);
    return false;
  }
  if (pr.next < c.log.firstInMemory()) {
    // Trimmed from memory (issue 16): the host reads them back from its log; entriesRead sends them.
    requestRead(c, to, pr);
    return false;
  }
  const entries = c.log.slice(pr.next, c.cfg.maxEntriesPerAppend, c.cfg.maxBytesPerAppend);
  sendEntries(c, to, pr, prev, prevTerm, entries);
  return true;
}

/** The AppendRequest carrying `entries` (which follow (prev, prevTerm)), and its flow control. */
function sendEntries(
  c: Core,
  to: NodeId,
  pr: Progress,
  prev: number,
  prevTerm: number,
  entries: readonly Entry[],
): void {
  const lease = c.lease;
  const m: AppendRequest = {
    type: 'app',
    from: c.cfg.id,
    to,
    term: c.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries,
    commit: c.log.committed,
    leaseDurationMs: c.claimedLeaseMs(),
    round: lease === null ? 0 : lease.round,
  };
  // The leader's own disk write may run in parallel (it counts itself only once stable).
  c.send(m, false);
  const lastSent = prev + entries.length;
  if (pr.state === 'replicate') {
    pr.inflight.push(lastSent);
    pr.next = lastSent + 1;
  } else {
    pr.probeSent = true;
  }
}

/**
 * Asks the host for the trimmed entries from pr.next on — once: a read in flight is not asked again
 * unless it went unanswered for an election timeout (a lost answer must not stall the follower).
 */
function requestRead(c: Core, to: NodeId, pr: Progress): void {
  const nowMs = c.nowMs();
  if (pr.pendingRead === pr.next && nowMs - pr.pendingReadAtMs < c.cfg.electionTimeoutMinMs) return;
  const hi = Math.min(c.log.firstInMemory() - 1, pr.next + c.cfg.maxEntriesPerAppend - 1);
  c.logReads.push({ to, term: c.term, lo: pr.next, hi, maxBytes: c.cfg.maxBytesPerAppend });
  pr.pendingRead = pr.next;
  pr.pendingReadAtMs = nowMs;
}

/**
 * The host's answer to a LogRead. Sent only if it still is exactly what the follower needs: same
 * term, still leader, this read is the one pending, the follower's next index is still its first
 * index, nothing is waiting on a snapshot, and every entry has the term our log has at its index
 * (which also fails once the prefix was compacted meanwhile). Anything else is dropped: the next
 * heartbeat round asks again, or sends the snapshot when the entries are gone. `entries` null: the
 * host no longer has them (compacted meanwhile); the next round sends the snapshot.
 */
export function entriesRead(c: Core, read: LogRead, entries: readonly Entry[] | null): void {
  if (c.role !== 'leader' || read.term !== c.term) return;
  const pr = c.progress.get(read.to);
  // MUTANT log-read-stale-next: an answer is sent whatever the follower's progress became.
  const strict = c.cfg.mutant !== 'log-read-stale-next';
  if (pr === undefined || (strict && pr.pendingRead !== read.lo)) return;
  if (pr.pendingRead === read.lo) pr.pendingRead = 0;
  if (entries === null || entries.length === 0) return;
  if (pr.state === 'snapshot' || (strict && pr.next !== read.lo) || !pr.canSend(c.cfg.maxInflightAppends)) return;
  const prev = read.lo - 1;
  const prevTerm = c.log.term(prev);
  if (prevTerm === null || entries.length > c.cfg.maxEntriesPerAppend) return;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.index !== read.lo + i || c.log.term(e.index) !== e.term) return;
  }
  sendEntries(c, read.to, pr, prev, prevTerm, entries);
  sendAppends(c, read.to, pr);
}

/**
 * A heartbeat: an empty AppendRequest for the lease round. It checks the log at `next − 1`, the
 * point the leader assumes the follower has reached: success confirms the pipelined appends
 * arrived (and acknowledges them), a rejection reveals lost ones at once (no transport feedback
 * needed). A follower waiting for a snapshot is checked at its known match point.
 */
export function sendHeartbeat(c: Core, to: NodeId, pr: Progress): void {
  const lease = c.lease;
  let prev = pr.state === 'snapshot' ? pr.match : pr.next - 1;
  let prevTerm = c.log.term(prev);
  if (prevTerm === null) {
    // Match point compacted away: index 0 always matches (see RaftLog.maybeAppend's commit rule).
    prev = 0;
    prevTerm = 0;
  }
  const m: AppendRequest = {
    type: 'app',
    from: c.cfg.id,
    to,
    term: c.term,
    prevLogIndex: prev,
    prevLogTerm: prevTerm,
    entries: [],
    commit: Math.min(c.log.committed, prev),
    leaseDurationMs: c.claimedLeaseMs(),
    round: lease === null ? 0 : lease.round,
  };
  c.send(m, false);
}

/** Follower: AppendRequest from the current leader (already accepted as leader). */
export function handleAppend(c: Core, m: AppendRequest): void {
  const lastNew = c.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.entries);
  if (lastNew === null) {
    const resp: AppendResponse = {
      type: 'appResp',
      from: c.cfg.id,
      to: m.from,
      term: c.term,
      success: false,
      matchIndex: m.prevLogIndex,
      rejectHint: c.log.conflictHint(m.prevLogIndex),
      round: m.round,
    };
    c.send(resp, false);
    return;
  }
  const newCommit = Math.min(m.commit, lastNew);
  if (newCommit > c.log.committed) c.log.commitTo(newCommit);
  // A heartbeat's acknowledgement goes out at once, so lease renewal never queues behind a slow
  // fsync (docs/lease-notes.md case 10); it therefore claims only what is already on our disk. An
  // acknowledgement of entries waits until they are durable.
  const heartbeatOnly = m.entries.length === 0;
  const resp: AppendResponse = {
    type: 'appResp',
    from: c.cfg.id,
    to: m.from,
    term: c.term,
    success: true,
    matchIndex: heartbeatOnly ? Math.min(lastNew, c.log.stabled) : lastNew,
    rejectHint: null,
    round: m.round,
  };
  c.send(resp, !heartbeatOnly);
}

/** Follower: SnapshotRequest. The host attaches and restores the data (Ready.snapshot). */
export function handleSnapshot(c: Core, m: SnapshotRequest): void {
  const s = m.snapshot;
  let match: number;
  if (s.index <= c.log.committed) {
    match = c.log.committed;
  } else if (c.log.matchTerm(s.index, s.term)) {
    c.log.commitTo(s.index);
    match = s.index;
  } else {
    c.log.installSnapshot(s);
    c.pendingSnapshot = s;
    match = s.index;
  }
  const resp: AppendResponse = {
    type: 'appResp',
    from: c.cfg.id,
    to: m.from,
    term: c.term,
    success: true,
    matchIndex: match,
    rejectHint: null,
    round: m.round,
  };
  c.send(resp, true);
}

export function noopEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Noop, data: new Uint8Array(0) };
}
