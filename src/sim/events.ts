// Everything that can happen in a simulated run, as queued events (all times are true time, µs).
import type { ConfChange, NodeId } from '../raft/types.ts';

export interface ClientRequest {
  readonly client: number;
  /** The logical operation; its retries (same session and seq) carry the same opId. */
  readonly opId: number;
  readonly attempt: number;
  readonly op: 'put' | 'get';
  readonly key: string;
  readonly value?: string;
  /** put: the client session (exactly-once: a retry carries the same clientId and seq). */
  readonly session: string;
  readonly seq: number;
}

export interface ClientResponse {
  readonly client: number;
  readonly opId: number;
  readonly attempt: number;
  readonly from: NodeId;
  /** fail: definitely not applied (not the leader; another entry took the index); unknown: may be applied. */
  readonly outcome: 'ok' | 'fail' | 'unknown';
  /** put: the log index of the entry that answered; get: the applied index it was served at. */
  readonly index: number;
  /** put: the revision the write made; get: the mod revision of the value read (0 = absent). */
  readonly revision: number;
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
  | {
      readonly kind: 'partition';
      readonly links: readonly (readonly [NodeId, NodeId])[];
      readonly label: string;
      /** Links among `links` on which what is already in flight is lost too (a broken connection). */
      readonly lossy?: readonly (readonly [NodeId, NodeId])[];
    }
  /** Heals every partition; with `of`, only if the partition in force is still the one so labelled. */
  | { readonly kind: 'heal'; readonly of?: string }
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
  /**
   * Arms a power loss: at the next instant the leader commits an entry, every node crashes (only
   * what was fsynced survives anywhere; an acknowledgement sent before its entries were durable,
   * MUTANT ack-before-fsync, loses a committed entry); each restarts after its own delay.
   */
  | { readonly kind: 'power-loss' }
  | { readonly kind: 'power-off' }
  | { readonly kind: 'stop-faults' };

export type SimEvent =
  /** Work of a simulated part (a frame arriving, a timer, an fsync completing): closures keep it in one place. */
  | { readonly k: 'call'; readonly fn: () => void }
  | { readonly k: 'clientReq'; readonly node: NodeId; readonly req: ClientRequest }
  | { readonly k: 'clientResp'; readonly resp: ClientResponse }
  | { readonly k: 'clientTimeout'; readonly client: number; readonly opId: number; readonly attempt: number }
  | { readonly k: 'clientNext'; readonly client: number }
  | { readonly k: 'clientRetry'; readonly client: number; readonly opId: number }
  | { readonly k: 'fault'; readonly action: FaultAction }
  | { readonly k: 'end' };
