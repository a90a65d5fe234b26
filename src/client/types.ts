// Results of the leasekv client, as plain values (numbers, not the wire's uint64 strings).

export type Consistency = 'linearizable' | 'stale';
export type Role = 'leader' | 'follower' | 'candidate' | 'unknown';
export type ReadMode = 'lease' | 'readindex' | 'stale' | 'unknown';

// `revision` (issue 14): the store's revision the answer reflects (for a write: the revision it
// wrote at). Every key has createRevision, modRevision and version (0 when absent).
export interface PutResult {
  readonly index: number;
  readonly revision: number;
}
export interface GetResult {
  readonly found: boolean;
  readonly value: string;
  readonly index: number;
  readonly readMode: ReadMode;
  readonly staleByMs: number;
  readonly revision: number;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}
export interface DeleteResult {
  readonly deleted: boolean;
  readonly index: number;
  readonly revision: number;
}
export interface CasResult {
  readonly swapped: boolean;
  /** When the swap failed: the value found (undefined: the key did not exist). */
  readonly current?: string;
  readonly index: number;
  readonly revision: number;
}
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}
export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  /** With countOnly: how many keys match (0 otherwise). */
  readonly count: number;
  readonly index: number;
  readonly revision: number;
}
/** What a Range reads besides its prefix (docs/api.md, "Range"). */
export interface RangeOptions {
  /** At most this many keys (0 or absent: the server's default). */
  readonly limit?: number;
  readonly consistency?: Consistency;
  /** Read the keys as they were at this past revision (the answering member's history; `compacted` beyond it). */
  readonly revision?: number;
  /** Begin at this key (inclusive): a page's last key + "\u0000" reads on after it. */
  readonly startKey?: string;
  /** Keys and revisions only, every value empty. */
  readonly keysOnly?: boolean;
  /** Only how many keys match, in `count`. */
  readonly countOnly?: boolean;
}

export type CompareResult = '=' | '!=' | '<' | '>';
/**
 * A transaction's comparison. An absent key has version, createRevision and modRevision 0 and no
 * value (a 'value' comparison with an absent key is false): { target: 'version', result: '=', value: 0 }
 * means "does not exist".
 */
export type TxnCompare =
  | { readonly key: string; readonly target: 'value'; readonly result: CompareResult; readonly value: string }
  | {
      readonly key: string;
      readonly target: 'version' | 'createRevision' | 'modRevision';
      readonly result: CompareResult;
      readonly value: number;
    };
export type TxnOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'get'; readonly key: string }
  /** limit: 0 or absent is the server default. */
  | { readonly op: 'range'; readonly prefix: string; readonly limit?: number };
export interface TxnRequest {
  readonly compare?: readonly TxnCompare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}
export type TxnOpResponse =
  | { readonly op: 'put' }
  | { readonly op: 'delete'; readonly deleted: boolean }
  | { readonly op: 'get'; readonly found: boolean; readonly kv?: KeyValue }
  | { readonly op: 'range'; readonly kvs: readonly KeyValue[]; readonly more: boolean };
export interface TxnResult {
  /** Every comparison held and `success` ran (otherwise `failure` ran). */
  readonly succeeded: boolean;
  /** One per operation of the branch that ran, in order. */
  readonly responses: readonly TxnOpResponse[];
  readonly index: number;
  /** The store's revision after the transaction (the one its writes got, if it wrote). */
  readonly revision: number;
}
export interface Member {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
  /** A learner receives the log but does not vote nor count toward commit or the lease. */
  readonly learner: boolean;
  /**
   * The peer protocol the answering node spoke in its last handshake with this member (the newest
   * both speak); for the answering node itself, the newest it speaks. 0: no handshake yet, or the
   * answering node's build predates the field (session 13).
   */
  readonly protocolVersion: number;
  /** The member's leasekv version from that handshake ('' when not known). */
  readonly softwareVersion: string;
}
export interface NodeStatus {
  readonly id: string;
  readonly role: Role;
  readonly term: number;
  readonly leader: string;
  readonly leaderClientAddr: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly leaseHeld: boolean;
  readonly leaseRemainingMs: number;
  readonly oldLeaseRemainingMs: number;
  readonly members: readonly Member[];
  readonly keys: number;
  readonly version: string;
  readonly revision: number;
  /** The log index of the latest membership change (0: none since bootstrap), and whether it is committed. */
  readonly configIndex: number;
  readonly configCommitted: boolean;
  /** The peer protocols this node's build speaks (0 from a build that predates the fields). */
  readonly minProtocolVersion: number;
  readonly maxProtocolVersion: number;
  /** The newest protocol every member is known to speak (what a rolling upgrade waits on). */
  readonly clusterProtocolVersion: number;
}
/** statusAll(): one entry per endpoint, with the status or why it could not be had. */
export interface EndpointStatus {
  readonly endpoint: string;
  readonly status?: NodeStatus;
  readonly error?: string;
}

export interface CallOptions {
  /** Overrides the client's deadlineMs for this call. */
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}
