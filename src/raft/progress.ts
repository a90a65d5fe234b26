// The leader's view of one follower (etcd-io/raft's Progress, simplified).
//   probe:     one AppendRequest at a time until the follower's log position is found
//   replicate: pipelined AppendRequests, at most maxInflightAppends in flight
//   snapshot:  a SnapshotRequest is out; wait for its acknowledgement
// Invariant: match < next; entries <= match are known to be identical on the follower (unless the
// follower lost its data folder: see forgetMatch).
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an AppendRequest is out and unanswered (resumed by any answer or the next heartbeat). */
  probeSent = false;
  /** replicate: last index of each AppendRequest in flight, oldest first. */
  readonly inflight: number[] = [];
  /** snapshot: the index of the SnapshotRequest in flight. */
  pendingSnapshot = 0;
  /**
   * The first index of a LogRead asked of the host for this follower and not yet answered (0: none),
   * and when it was asked (a read the host never answers is asked again after an election timeout).
   */
  pendingRead = 0;
  pendingReadAtMs = 0;
  /** Heard from since the last CheckQuorum. */
  recentActive = false;
  /** When the leader last heard from this follower (any answer in its term); -∞ if never. */
  lastHeardMs = Number.NEGATIVE_INFINITY;
  /** Latest heartbeat round of a success acknowledgement (rounds never decrease in send order). */
  ackRound = 0;
  /**
   * When `match` last moved, the follower was last caught up, or (replicating) last answered a round
   * successfully; drives retransmission.
   */
  lastProgressMs: number;

  constructor(next: number, nowMs: number) {
    this.next = next;
    this.lastProgressMs = nowMs;
  }

  becomeProbe(next: number): void {
    this.pendingRead = 0;
    this.state = 'probe';
    this.next = Math.max(this.match + 1, next);
    this.probeSent = false;
    this.inflight.length = 0;
    this.pendingSnapshot = 0;
  }

  becomeReplicate(): void {
    this.pendingRead = 0;
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight.length = 0;
  }

  becomeSnapshot(index: number): void {
    this.pendingRead = 0;
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.inflight.length = 0;
  }

  /** Whether another AppendRequest may go out now. */
  canSend(maxInflight: number): boolean {
    if (this.state === 'snapshot') return false;
    if (this.state === 'probe') return !this.probeSent;
    return this.inflight.length < maxInflight;
  }

  /**
   * The follower rejected a point at or below `match` in a request sent after everything it had
   * acknowledged: it lost acknowledged entries, which only a wiped data folder does (docs/storage.md,
   * "How to recover"). What we knew of it is void; a lower match is always safe (commit only counts).
   */
  forgetMatch(): void {
    this.match = 0;
    this.ackRound = 0;
  }

  /** A success acknowledgement up to `index`. Returns true if match advanced. */
  onAck(index: number, nowMs: number): boolean {
    while (this.inflight.length > 0 && (this.inflight[0] as number) <= index) this.inflight.shift();
    if (this.state === 'probe') this.probeSent = false;
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.lastProgressMs = nowMs;
    return true;
  }
}
