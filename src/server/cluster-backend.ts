// What the leasekv.v1.Cluster service asks of a node (docs/api.md "Cluster"), and its errors.

export interface MemberView {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
  readonly learner: boolean;
  /** Chosen when the member was added; '' for the first members. */
  readonly incarnation: string;
}

export interface MemberListResult {
  readonly clusterId: string;
  readonly members: readonly MemberView[];
  readonly removed: readonly string[];
  readonly leader: string;
  readonly configIndex: number;
  readonly configCommitted: boolean;
}

export interface MemberAddRequest {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
  readonly learner: boolean;
}

export interface ChangeResult {
  readonly index: number;
  readonly members: readonly MemberView[];
}

export interface ClusterBackend {
  memberList(): Promise<MemberListResult>;
  memberAdd(req: MemberAddRequest, signal: AbortSignal): Promise<ChangeResult & { readonly member: MemberView }>;
  memberPromote(id: string, signal: AbortSignal): Promise<ChangeResult>;
  memberRemove(id: string, force: boolean, signal: AbortSignal): Promise<ChangeResult>;
  /** Resolves with the new leader once it leads. target '' = the most caught-up voter. */
  transferLeadership(target: string, signal: AbortSignal): Promise<{ readonly leader: string }>;
}

/** The leader refused a membership change (the core's reason; answered as failed_precondition). */
export class ChangeRefusedError extends Error {
  override readonly name = 'ChangeRefusedError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
