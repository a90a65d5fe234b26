// The node's view of the peer network.
import type { Message, SnapshotRequest } from '../raft/types.ts';
import type { SnapshotSource } from '../transport/outbound.ts';

export interface NodeTransport {
  /** Non-blocking; messages to one peer in one call are batched. Undeliverable messages are dropped (Raft retries). */
  send(msgs: readonly Message[]): void;
  /** Streams snapshot data to msg.to in chunks; delivered there as onSnapshot once complete. */
  sendSnapshot(msg: SnapshotRequest, data: Uint8Array): void;
  /** As sendSnapshot, reading the bytes from the source as they are sent (the snapshot file). */
  sendSnapshotFrom(msg: SnapshotRequest, source: SnapshotSource): void;
  /** Whether a snapshot transfer to `to` is still unacknowledged (the core re-offers snapshots). */
  snapshotInProgress(to: string): boolean;
  onMessage(handler: (msg: Message) => void): void;
  onSnapshot(handler: (msg: SnapshotRequest, data: Uint8Array) => void): void;
}
