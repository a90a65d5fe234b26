// What the client API needs from a node. The API layer (Connect/gRPC/JSON handlers) calls this;
// the node (server/node.ts) implements it; tests use an in-memory fake.
import type { KeyValue, TxnOpResult } from '../kv/result.ts';
import type { Compare, TxnOp } from '../kv/txn.ts';
import type { WatchBatch, WatchRequest } from './watch/hub.ts';

/** What a backend's watch() returns (a Watcher, or its stand-in on the client API thread). */
export interface WatchStream extends AsyncIterable<WatchBatch> {
  /** Ends the stream: its iterator returns. */
  cancel(): void;
}

export type { KeyValue, TxnOpResult } from '../kv/result.ts';
export type { Compare, CompareResult, TxnOp } from '../kv/txn.ts';

export type Consistency = 'linearizable' | 'stale';
export type Role = 'leader' | 'follower' | 'candidate';
export type ReadMode = 'lease' | 'readindex' | 'stale';

/** Exactly-once writes (Raft thesis §6.3): a retried (clientId, seq) is applied once. */
export interface SessionRef {
  readonly clientId: string;
  readonly seq: number;
}

export interface PutRequest {
  readonly key: string;
  readonly value: string;
  /** Attach the key to this TTL grant (absent: none). */
  readonly ttl?: number;
  readonly session?: SessionRef;
}

export interface TtlGrantRequest {
  readonly ttlMs: number;
  readonly session?: SessionRef;
}
export interface TtlGrantResult {
  readonly id: number;
  readonly ttlMs: number;
  readonly index: number;
  readonly revision: number;
}
export interface TtlRevokeRequest {
  readonly id: number;
  readonly session?: SessionRef;
}
export interface TtlRevokeResult {
  readonly found: boolean;
  readonly index: number;
  readonly revision: number;
}
export interface PutResult {
  readonly index: number;
  /** The revision the put wrote at (issue 14). */
  readonly revision: number;
}

export interface GetRequest {
  readonly key: string;
  readonly consistency: Consistency;
}
export interface GetResult {
  readonly found: boolean;
  readonly value: string;
  /** The applied index the answer reflects. */
  readonly index: number;
  readonly readMode: ReadMode;
  /** For stale reads: how far behind the leader this node may be, in ms since it last heard from one (0 on the leader). */
  readonly staleByMs: number;
  /** The store's revision at the answer. */
  readonly revision: number;
  /** The key's revisions and version (0 when not found). */
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

export interface DeleteRequest {
  readonly key: string;
  readonly session?: SessionRef;
}
export interface DeleteResult {
  readonly deleted: boolean;
  readonly index: number;
  readonly revision: number;
}

export interface CasRequest {
  readonly key: string;
  /** null: succeed only if the key is absent. */
  readonly expected: string | null;
  readonly value: string;
  readonly session?: SessionRef;
}
export interface CasResult {
  readonly swapped: boolean;
  /** The value found when the swap failed (absent: the key did not exist). */
  readonly current?: string;
  readonly index: number;
  readonly revision: number;
}

export interface RangeRequest {
  readonly prefix: string;
  readonly limit: number;
  readonly consistency: Consistency;
  /** A past revision to read at (absent: now). */
  readonly revision?: number;
  /** Begin at this key (inclusive) when it comes after the prefix's first key (paging). */
  readonly startKey?: string;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /** The answer's cap (--max-response-bytes; kv/range.ts counts it): AnswerTooLargeError beyond it. */
  readonly maxBytes: number;
}
export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  /** count_only: how many keys match. */
  readonly count?: number;
  readonly index: number;
  readonly revision: number;
}

/** compares, then success or failure, atomically and (with a session) exactly once. */
export interface TxnRequest {
  readonly compares: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
  readonly session?: SessionRef;
  /** The answer's cap (--max-response-bytes), as for a Range: AnswerTooLargeError beyond it. */
  readonly maxBytes: number;
}
export interface TxnResult {
  readonly succeeded: boolean;
  /** One per operation of the branch that ran. */
  readonly results: readonly TxnOpResult[];
  readonly index: number;
  readonly revision: number;
}

export interface MemberInfo {
  readonly id: string;
  readonly peerAddr: string;
  /** The member's client address, when known (for leader hints). */
  readonly clientAddr: string;
  /** A learner receives the log but does not vote (absent: a voter). */
  readonly learner?: boolean;
  readonly incarnation?: string;
  /** The peer protocol of this node's last handshake with it (its own newest for itself; 0: none yet). */
  readonly protocolVersion?: number;
  /** Its leasekv version from that handshake (its own for itself; '': none yet, or older than 0.2.0). */
  readonly softwareVersion?: string;
}

export interface StatusResult {
  readonly id: string;
  readonly role: Role;
  readonly term: number;
  readonly leader: string;
  readonly leaderClientAddr: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly leaseHeld: boolean;
  readonly leaseRemainingMs: number;
  /** A new leader's remaining wait for the old leader's lease, or a follower's view of the leader's lease. */
  readonly oldLeaseRemainingMs: number;
  readonly members: readonly MemberInfo[];
  readonly keys: number;
  readonly version: string;
  /** The store's revision in this node's applied state. */
  readonly revision: number;
  /** The latest membership change's log index (0: none) and whether it is committed. */
  readonly configIndex?: number;
  readonly configCommitted?: boolean;
  /** The peer protocols this build speaks, and the newest every member is known to speak. */
  readonly minProtocolVersion?: number;
  readonly maxProtocolVersion?: number;
  readonly clusterProtocolVersion?: number;
}

export interface KvBackend {
  put(req: PutRequest, signal: AbortSignal): Promise<PutResult>;
  get(req: GetRequest, signal: AbortSignal): Promise<GetResult>;
  /**
   * The lean path for the hottest request: the answer if it can be given right now without waiting
   * (a lease read on the leader with the state machine caught up, or a stale read), else null and
   * the caller uses get(). Never throws for operating conditions.
   */
  getNow?(req: GetRequest): GetResult | null;
  /**
   * For a backend on another thread (api-thread/): a Get without an abort signal, which the node
   * answers at once when it can (getNow) and otherwise like get() within timeoutMs.
   */
  getQuick?(req: GetRequest, timeoutMs: number): Promise<GetResult>;
  /**
   * The write's lean path (issue 16): a Put without an abort signal, for a backend that applies the
   * deadline itself — it rejects with DeadlineExceededError once timeoutMs passes (no per-request
   * AbortController, listeners or race on the client API's side).
   */
  putQuick?(req: PutRequest, timeoutMs: number): Promise<PutResult>;
  /**
   * putQuick of a Put without TTL or session whose command the client API thread encoded
   * (kv/command.ts writePlainPut; api-thread/put-pack.ts), proposed as those bytes; `done` is called
   * once, with the result or the error putQuick would reject with. No promise per write.
   */
  putCommand?(cmd: Uint8Array, timeoutMs: number, done: (err: unknown, r: PutResult | null) => void): void;
  delete(req: DeleteRequest, signal: AbortSignal): Promise<DeleteResult>;
  compareAndSwap(req: CasRequest, signal: AbortSignal): Promise<CasResult>;
  range(req: RangeRequest, signal: AbortSignal): Promise<RangeResult>;
  txn(req: TxnRequest, signal: AbortSignal): Promise<TxnResult>;
  /**
   * Opens a watcher on this member's applied state (watch/hub.ts); throws CompactedError or
   * TooManyWatchersError. The caller iterates it and cancels it when done.
   */
  watch(req: WatchRequest): WatchStream;
  ttlGrant(req: TtlGrantRequest, signal: AbortSignal): Promise<TtlGrantResult>;
  /** Leader only: the grant lives at least its TTL from now. Throws TtlNotFoundError if it ended. */
  ttlKeepAlive(id: number, signal: AbortSignal): Promise<{ readonly id: number; readonly ttlMs: number }>;
  ttlRevoke(req: TtlRevokeRequest, signal: AbortSignal): Promise<TtlRevokeResult>;
  /** The keys attached to a TTL grant now (for the permission check of a revoke; issue 15). */
  ttlKeys?(id: number): readonly string[];
  compact(
    req: { readonly revision: number; readonly session?: SessionRef },
    signal: AbortSignal,
  ): Promise<{ compactRevision: number; index: number; revision: number }>;
  status(): Promise<StatusResult>;
}

/** Operating errors a backend raises; the API maps each to one status code. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(
    readonly leaderId: string,
    readonly leaderClientAddr: string,
  ) {
    super(
      leaderId === ''
        ? 'not leader; no leader known'
        : `not leader; leader is ${leaderId}${leaderClientAddr === '' ? '' : ` at ${leaderClientAddr}`}`,
    );
  }
}
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
}
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
}
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
}
export class SessionExpiredError extends Error {
  override readonly name = 'SessionExpiredError';
}
/** A read at a revision that does not exist yet. */
export class FutureRevisionError extends Error {
  override readonly name = 'FutureRevisionError';
}
/** The TTL grant does not exist (it ended, or never did). */
export class TtlNotFoundError extends Error {
  override readonly name = 'TtlNotFoundError';
  constructor(readonly id: number) {
    super(`ttl grant ${id} not found (it has ended, or never existed)`);
  }
}
/**
 * The caller's deadline passed (KvBackend.putQuick: a backend on another thread applies the client
 * API's deadline itself); for a write, like deadline_exceeded always, the outcome is unknown.
 */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(readonly deadlineMs: number) {
    super(`deadline of ${deadlineMs} ms exceeded`);
  }
}
/** The request's outcome is unknown (e.g. leadership lost after proposing): it may or may not apply. */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError';
}
