// Results of the leasekv client, as plain values (numbers, not the wire's uint64 strings).

export type Consistency = 'linearizable' | 'stale';
export type Role = 'leader' | 'follower' | 'candidate' | 'unknown';
export type ReadMode = 'lease' | 'readindex' | 'stale' | 'unknown';

export interface PutResult {
  readonly index: number;
}
export interface GetResult {
  readonly found: boolean;
  readonly value: string;
  readonly index: number;
  readonly readMode: ReadMode;
  readonly staleByMs: number;
}
export interface DeleteResult {
  readonly deleted: boolean;
  readonly index: number;
}
export interface CasResult {
  readonly swapped: boolean;
  /** When the swap failed: the value found (undefined: the key did not exist). */
  readonly current?: string;
  readonly index: number;
}
export interface RangeResult {
  readonly kvs: readonly { readonly key: string; readonly value: string }[];
  readonly more: boolean;
  readonly index: number;
}
export interface Member {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
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
