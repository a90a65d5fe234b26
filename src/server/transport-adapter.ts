// The node's view of the peer network, and the peer transport's parts that are the server's.
import type { Logger } from 'pino';
import type { Message, SnapshotRequest } from '../raft/types.ts';
import type { SnapshotSource } from '../transport/outbound.ts';
import type { PeerTransport } from '../transport/peer-transport.ts';
import type { ReceivedSnapshotData, SpoolOpener } from '../transport/spool.ts';
import { removeSpoolLeftovers, SnapshotSpoolDir } from '../storage/snapshot_spool.ts';

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
  onSnapshot(handler: (msg: SnapshotRequest, data: ReceivedSnapshotData) => void): void;
}

export function nodeTransport(transport: PeerTransport): NodeTransport {
  return {
    send: (msgs) => transport.send(msgs),
    sendSnapshot: (msg, data) => transport.sendSnapshot(msg.to, msg, data),
    sendSnapshotFrom: (msg, source) => transport.sendSnapshot(msg.to, msg, source),
    snapshotInProgress: (to) => transport.snapshotInProgress(to),
    onMessage: (h) => transport.onMessage(h),
    onSnapshot: (h) => transport.onSnapshot((_from, msg, data) => h(msg, data)),
  };
}

/**
 * Received snapshots wait on disk in the data dir, not in a buffer of their size (issue 16). The
 * files a crash mid-transfer left are never read again: removed here, before the transport listens.
 */
export function spoolOpener(dataDir: string, log: Logger): SpoolOpener {
  const leftovers = removeSpoolLeftovers(dataDir);
  if (leftovers.length > 0) log.info({ files: leftovers }, 'removed partly received snapshots of an earlier run');
  const spool = new SnapshotSpoolDir(dataDir);
  // With the snapshot's meta: the spool file is a whole snapshot file, installed as it is (issue 16).
  return (totalBytes, meta) => spool.open(totalBytes, meta);
}
