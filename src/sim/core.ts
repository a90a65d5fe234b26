// The slice of the consensus core's API that the simulator drives. Kept in one place so that the
// host loop is written against exactly what it uses (and adapts in one file if the core changes).
import type { Entry, HardState, Message, NodeId, Ready } from '../raft/types.ts';

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; leaderHint: NodeId | null };

export interface Core {
  tick(nowMs: number): void;
  nextTickAtMs(): number;
  step(msg: Message, nowMs: number): void;
  propose(data: Uint8Array, nowMs: number): ProposeResult;
  leaseRead(nowMs: number): number | null;
  readIndex(requestId: number, nowMs: number): void;
  transferLeadership(target: NodeId, nowMs: number): unknown;
  compact(index: number): unknown;
  confStateAt(index: number): import('../raft/types.ts').ConfState;
  confState(): import('../raft/types.ts').ConfState;
  proposeConfChange(cc: import('../raft/types.ts').ConfChange, nowMs: number): { readonly ok: boolean };
  ready(nowMs: number): Ready | null;
  advance(rd: Ready, nowMs: number): void;
  isLeaseValid(nowMs: number): boolean;
}

export interface Restored {
  readonly hardState: HardState;
  readonly snapshot: import('../raft/types.ts').SnapshotMeta | null;
  readonly entries: readonly Entry[];
}
