// Everything that can happen in a simulated run, as queued events (all times are true time, µs).
import type { ConfChange, Message, NodeId } from '../raft/types.ts';
import type { StoredSnapshot } from './storage.ts';

/** A peer message on the wire; a snapshot message carries the sender's state machine data. */
export interface Envelope {
  readonly msg: Message;
  readonly snapshot: StoredSnapshot | null;
}

export interface ClientRequest {
  readonly client: number;
  readonly opId: number;
  readonly op: 'put' | 'get';
  readonly key: string;
  readonly value?: string;
}

export interface ClientResponse {
  readonly client: number;
  readonly opId: number;
  readonly from: NodeId;
  readonly ok: boolean;
  /** put: the log index that holds the write; get: the index of the version read (0 = absent). */
  readonly index: number;
  readonly value: string | null;
  readonly leaderHint: NodeId | null;
  /** get only: whether it was served from the lease (true) or a ReadIndex round (false). */
  readonly viaLease: boolean;
}

export type FaultAction =
  | { readonly kind: 'crash'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'pause'; readonly node: NodeId }
  | { readonly kind: 'resume'; readonly node: NodeId }
  | { readonly kind: 'partition'; readonly links: readonly (readonly [NodeId, NodeId])[]; readonly label: string }
  | { readonly kind: 'heal' }
  | { readonly kind: 'slow-link'; readonly from: NodeId; readonly to: NodeId; readonly extraUs: number }
  | { readonly kind: 'transfer'; readonly target?: NodeId }
  | { readonly kind: 'clear-delays' }
  | { readonly kind: 'quiet'; readonly on: boolean }
  | { readonly kind: 'clock-rate'; readonly node: NodeId; readonly rate: number }
  | { readonly kind: 'next-fault' }
  /** The membership driver's next step (membership.ts). */
  | { readonly kind: 'member' }
  /** Log entries and snapshots to the node are lost (votes and heartbeats still arrive). */
  | { readonly kind: 'starve'; readonly node: NodeId; readonly on: boolean }
  /** A membership change proposed at whoever leads then (unless that is the member it changes). */
  | { readonly kind: 'change'; readonly change: ConfChange }
  /** The node's disk is lost: it crashes; it never runs again, unless `rejoin` (a mutant) restarts it empty. */
  | { readonly kind: 'wipe'; readonly node: NodeId; readonly rejoin: boolean }
  | { readonly kind: 'stop-faults' };

export type SimEvent =
  | { readonly k: 'deliver'; readonly to: NodeId; readonly env: Envelope }
  | { readonly k: 'tick'; readonly node: NodeId; readonly gen: number }
  | { readonly k: 'fsync'; readonly node: NodeId; readonly epoch: number }
  | { readonly k: 'clientReq'; readonly node: NodeId; readonly req: ClientRequest }
  | { readonly k: 'clientResp'; readonly resp: ClientResponse }
  | { readonly k: 'clientTimeout'; readonly client: number; readonly opId: number }
  | { readonly k: 'clientNext'; readonly client: number }
  | { readonly k: 'fault'; readonly action: FaultAction }
  | { readonly k: 'end' };
