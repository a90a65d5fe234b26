// A leasekv node's snapshots (docs/storage.md): taking one every snapshotThresholdEntries applied
// entries and compacting the log, and sending one to a follower that is too far behind. Installing
// one from the leader is part of the Ready handling (node-drive.ts).

import type { SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import { NodeDrive } from './node-drive.ts';

export abstract class NodeSnapshots extends NodeDrive {
  /**
   * The core re-offers a snapshot on every heartbeat round until the follower has it. One transfer
   * per follower at a time: a re-offer while one is streaming is dropped, and the bytes read from
   * disk are kept (one snapshot, by index) for the next follower or a restarted transfer.
   */
  protected override sendSnapshot(msg: SnapshotRequest): void {
    if (this.transport.snapshotInProgress(msg.to) || this.snapshotLoading.has(msg.to)) return;
    const cached = this.outgoingSnapshot;
    if (cached !== null && cached.meta.index === msg.snapshot.index) {
      this.transport.sendSnapshot(msg, cached.data);
      return;
    }
    this.snapshotLoading.add(msg.to);
    this.storage.loadSnapshot().then(
      (snap) => {
        this.snapshotLoading.delete(msg.to);
        if (snap === null || snap.meta.index !== msg.snapshot.index) {
          this.log.warn({ to: msg.to, index: msg.snapshot.index }, 'snapshot to send is gone; the core will ask again');
          return;
        }
        this.outgoingSnapshot = snap;
        this.log.info({ to: msg.to, index: snap.meta.index, bytes: snap.data.length }, 'sending snapshot');
        this.transport.sendSnapshot(msg, snap.data);
      },
      (err: unknown) => {
        this.snapshotLoading.delete(msg.to);
        this.log.error({ err, to: msg.to }, 'reading snapshot to send failed');
      },
    );
  }

  /** Take a snapshot every snapshotThresholdEntries applied entries, then compact the log. */
  protected override maybeSnapshot(): void {
    if (this.snapshotting || this.kv.appliedIndex - this.lastSnapshotIndex < this.cfg.snapshotThresholdEntries) return;
    this.snapshotting = true;
    const meta: SnapshotMeta = {
      index: this.kv.appliedIndex,
      term: this.kv.appliedTerm,
      confState: this.core.confStateAt(this.kv.appliedIndex),
    };
    const startedMs = this.now();
    let bytes = 0;
    // snapshotAsync encodes in slices, copy-on-write, so applying and heartbeats go on meanwhile.
    this.kv
      .snapshotAsync()
      .then((data) => {
        bytes = data.length;
        // A snapshot installed from the leader meanwhile may already cover this one.
        return meta.index > this.lastSnapshotIndex ? this.storage.saveSnapshot(meta, data).then(() => true) : false;
      })
      .then(
        (saved) => {
          this.snapshotting = false;
          if (!saved) return;
          this.lastSnapshotIndex = meta.index;
          this.outgoingSnapshot = null;
          this.core.compact(meta.index);
          this.log.info(
            { index: meta.index, bytes, ms: Math.round(this.now() - startedMs) },
            'snapshot written, log compacted',
          );
        },
        (err: unknown) => this.fatal('writing a snapshot', err),
      );
  }
}
