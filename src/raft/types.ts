// The consensus core's contract with its host (server, simulator, tests).
//
// The core is a pure state machine in the style of etcd-io/raft: it performs no I/O, reads no clock,
// sets no timer and has no randomness of its own. Every call carries `nowMs`, the node's MONOTONIC
// time in milliseconds as read by the host (never wall-clock time), and randomness comes from an
// injected seeded source. What the core wants done comes back as a `Ready` batch.
//
// The host's contract (see Ready): messages whose `afterPersist` is true leave only once the Ready's
// entries and hard state are durable; the others may leave at once; committed entries are applied
// in order; `advance(rd)` after the Ready is handled. The ONE host, and the order in which it
// persists, sends and applies (stated once, there), is src/host/drive.ts.
// A host may pipeline (asynchronous storage writes, after etcd-io/raft): take the next Ready while
// earlier ones are still being persisted, as long as it persists Readies in the order they were
// handed out (a later Ready's entries may overwrite an earlier one's), sends each Ready's afterPersist
// messages only once that Ready is durable, and advances them in order. The leader counts its own
// entries toward commit only after advance() says they are durable, like a follower's acknowledgement.

export type NodeId = string;

/**
 * Kinds of log entries. Noop is appended by every new leader (Raft §8); Normal carries a command;
 * ConfChange carries a membership change (encodeConfChange), in force from the moment it is
 * appended to a log (single-server changes, Raft thesis §4.1; see docs/lease-safety.md).
 */
export const EntryType = { Normal: 0, Noop: 1, ConfChange: 2 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** A log entry. Invariant: index >= 1, and term never decreases along the log. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Opaque command bytes (the kv layer's encoding); empty for Noop. */
  readonly data: Uint8Array;
}

/** State that must be durable before any message depending on it is sent (Raft Figure 2). */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly commit: number;
}

/**
 * A cluster configuration. Voters elect and count toward commit and leases; learners receive the
 * log and snapshots only. `removed` lists ids that were members once and may never come back.
 * Invariant: the three lists are disjoint; voters is never empty in a running cluster.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly removed?: readonly NodeId[];
}

/**
 * One membership change (single-server: one member changes role per entry). Adding a voter is
 * add-learner then promote. `context` is opaque to the core (the host's addresses, incarnation).
 */
export interface ConfChange {
  readonly kind: 'add-learner' | 'promote' | 'remove';
  readonly id: NodeId;
  readonly context: Uint8Array;
}

/** Describes the state machine snapshot that replaces the log prefix up to `index`. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly confState: ConfState;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; leaderHint: NodeId | null };

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote (and PreVote, with preVote = true, term = the term the sender would campaign in). */
export interface VoteRequest extends MessageBase {
  readonly type: 'vote';
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when a leader handed leadership over after giving up its lease (transferLeadership). */
  readonly transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'voteResp';
  readonly preVote: boolean;
  readonly granted: boolean;
  /**
   * The longest remaining old-leader lease the voter knows, in ms on the voter's clock, already
   * lengthened by the drift bound. The candidate waits this long (on its own clock, lengthened again
   * by the drift bound) after winning before acquiring its own lease.
   */
  readonly oldLeaseRemainingMs: number;
}

/** AppendEntries; a heartbeat is one with no entries. Every one carries the lease as a duration. */
export interface AppendRequest extends MessageBase {
  readonly type: 'app';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /** The lease this leader claims, as a duration from when the follower receives this message. */
  readonly leaseDurationMs: number;
  /** Heartbeat round this message belongs to; echoed back so the leader can date the lease. */
  readonly round: number;
}

export interface AppendResponse extends MessageBase {
  readonly type: 'appResp';
  readonly success: boolean;
  /**
   * On success: the index of the last entry known to match the leader's log.
   * On rejection: the prevLogIndex that was rejected (lets the leader ignore stale rejections).
   */
  readonly matchIndex: number;
  /** On rejection: fast backtracking hint — the follower's conflicting term and its first index. */
  readonly rejectHint: { readonly index: number; readonly term: number } | null;
  readonly round: number;
}

/** Leader → follower whose next entry is behind the compacted log. The host attaches the data. */
export interface SnapshotRequest extends MessageBase {
  readonly type: 'snap';
  readonly snapshot: SnapshotMeta;
  readonly leaseDurationMs: number;
  readonly round: number;
}

/** Leadership transfer: the target campaigns at once, skipping PreVote, with transfer = true. */
export interface TimeoutNow extends MessageBase {
  readonly type: 'timeoutNow';
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | SnapshotRequest | TimeoutNow;

/** A message to send, and whether it may only go out after the Ready's persistence is done. */
export interface Outgoing {
  readonly msg: Message;
  readonly afterPersist: boolean;
}

/** A read that is now safe: answer it from the state machine once applied index >= `index`. */
export interface ReadState {
  readonly requestId: number;
  readonly index: number;
}

/** A read that cannot be served (not leader, stepped down, term changed). */
export interface ReadFailure {
  readonly requestId: number;
  /** 'overloaded': more than maxPendingReads ReadIndex requests were already waiting. */
  readonly reason: 'not-leader' | 'stepped-down' | 'overloaded';
  readonly leaderHint: NodeId | null;
}

/**
 * The leader needs entries [lo, hi] for follower `to`, and their data is no longer in memory (issue
 * 16: only a bounded window is; the rest is in the host's WAL). The host reads them — in index
 * order, starting at `lo`, stopping after `hi` or once more than `maxBytes` of data were read (at
 * least one entry) — and hands them back with RaftNode.entriesRead(read, entries), or with null if
 * they are gone (compacted into a snapshot meanwhile). The core checks the answer against its state
 * then and drops it if stale (term, leadership, the follower's next index, compaction).
 */
export interface LogRead {
  readonly to: NodeId;
  /** The leader's term when it asked. */
  readonly term: number;
  readonly lo: number;
  readonly hi: number;
  readonly maxBytes: number;
}

/** Observability: what happened, in the words the event log uses. Never needed for correctness. */
export type RaftEvent =
  | { readonly kind: 'role'; readonly role: Role; readonly term: number; readonly leader: NodeId | null }
  | { readonly kind: 'election-timeout'; readonly term: number; readonly preVote: boolean }
  | {
      readonly kind: 'vote';
      readonly candidate: NodeId;
      readonly term: number;
      readonly granted: boolean;
      readonly reason: string;
    }
  | { readonly kind: 'lease-acquired'; readonly term: number; readonly untilMs: number }
  | { readonly kind: 'lease-renewed'; readonly term: number; readonly untilMs: number }
  | { readonly kind: 'lease-lost'; readonly term: number; readonly reason: string }
  | { readonly kind: 'waiting-old-lease'; readonly term: number; readonly untilMs: number }
  | { readonly kind: 'old-lease-seen'; readonly leader: NodeId; readonly term: number; readonly untilMs: number }
  | { readonly kind: 'step-down'; readonly term: number; readonly reason: string }
  | { readonly kind: 'append-rejected'; readonly from: NodeId; readonly term: number; readonly index: number }
  | { readonly kind: 'commit'; readonly index: number; readonly term: number }
  /** The configuration in force changed (a ConfChange appended, truncated away, or a snapshot). */
  | { readonly kind: 'config'; readonly index: number; readonly voters: string; readonly learners: string };

/**
 * What the core asks the host to do. Ordering contract:
 * - `snapshot` (if any) is installed, then `entries` appended (an entry at an index that exists
 *   replaces it and everything after it), then `hardState` written; fsynced if `mustSync`.
 * - Outgoing messages with afterPersist = true leave only after that persistence is durable
 *   (votes, append acknowledgements). Messages with afterPersist = false may leave at once: the
 *   leader's AppendEntries and heartbeats never wait for its own disk (docs/lease-notes.md case 10).
 * - `committedEntries` are applied in order, after `snapshot` is restored into the state machine.
 *   They may be applied before this Ready's own entries are durable: a committed entry is already
 *   durable on a majority (the leader counts its own copy only once its disk has it).
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: SnapshotMeta | null;
  readonly mustSync: boolean;
  readonly messages: readonly Outgoing[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
  readonly events: readonly RaftEvent[];
  /** Entries to read back from the host's log for a follower (LogRead); independent of persistence. */
  readonly logReads: readonly LogRead[];
}

/** Deliberately broken variants for the simulator's mutant suite. Never set by the server. */
export type Mutant =
  | 'no-old-lease-wait'
  | 'lease-from-ack'
  | 'no-drift-margin'
  | 'read-before-noop'
  | 'vote-inside-lease'
  | 'transfer-keeps-lease'
  | 'lease-one-config'
  | 'change-before-term-commit'
  | 'new-voter-counts-before-ack'
  | 'transfer-resumes-lease'
  | 'removed-leader-keeps-lease'
  | 'rejoin-with-empty-disk'
  | 'log-read-stale-next';

export const MUTANTS: readonly Mutant[] = [
  'no-old-lease-wait',
  'lease-from-ack',
  'no-drift-margin',
  'read-before-noop',
  'vote-inside-lease',
  'transfer-keeps-lease',
  'lease-one-config',
  'change-before-term-commit',
  'new-voter-counts-before-ack',
  'transfer-resumes-lease',
  'removed-leader-keeps-lease',
  'rejoin-with-empty-disk',
  'log-read-stale-next',
];

/** Seeded random source in [0, 1), injected by the host. */
export type Random = () => number;
