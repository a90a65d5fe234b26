// The host's snapshots (docs/storage.md): taking one every snapshotThresholdEntries applied entries
// and compacting the log, and sending one to a follower that is too far behind. Installing one from
// the leader is part of the Ready handling (drive.ts).

import type { SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import { HostDrive } from './drive.ts';

export abstract class HostSnapshots extends HostDrive {
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
    this.storage.loadSnapshot((err, snap) => {
      this.snapshotLoading.delete(msg.to);
      if (this.stopped) return;
      if (err !== null && err !== undefined) {
        this.log.error({ err, to: msg.to }, 'reading snapshot to send failed');
        return;
      }
      if (snap === null || snap.meta.index !== msg.snapshot.index) {
        this.log.warn({ to: msg.to, index: msg.snapshot.index }, 'snapshot to send is gone; the core will ask again');
        return;
      }
      this.outgoingSnapshot = snap;
      this.log.info({ to: msg.to, index: snap.meta.index, bytes: snap.data.length }, 'sending snapshot');
      this.transport.sendSnapshot(msg, snap.data);
    });
  }

  /** Take a snapshot every snapshotThresholdEntries applied entries, then compact the log. */
  protected override maybeSnapshot(): void {
    if (this.snapshotting || this.kv.appliedIndex - this.lastSnapshotIndex < this.hc.snapshotThresholdEntries) return;
    this.snapshotting = true;
    const meta: SnapshotMeta = {
      index: this.kv.appliedIndex,
      term: this.kv.appliedTerm,
      confState: this.core.confStateAt(this.kv.appliedIndex),
    };
    const startedMs = this.now();
    // The slicer encodes copy-on-write (the server: in slices), so applying and heartbeats go on meanwhile.
    this.slicer.snapshot((err, data) => {
      if (err !== null && err !== undefined) return this.fatal('writing a snapshot', err);
      if (this.stopped || data === null) return;
      // A snapshot installed from the leader meanwhile may already cover this one.
      if (meta.index <= this.lastSnapshotIndex) {
        this.snapshotting = false;
        return;
      }
      const bytes = data.length;
      this.storage.saveSnapshot(meta, data, (err2) => {
        this.snapshotting = false;
        if (err2 !== null && err2 !== undefined) return this.fatal('writing a snapshot', err2);
        if (this.stopped) return;
        this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, meta.index);
        this.outgoingSnapshot = null;
        // The core compacts only what is stable: on a follower the entries up to meta.index may still
        // be in a Ready in flight (applied once committed, before this node's own copy is durable);
        // the compaction waits for the Readies handed out before it.
        this.completions.add(() => this.core.compact(meta.index))();
        this.log.info(
          { index: meta.index, bytes, ms: Math.round(this.now() - startedMs) },
          'snapshot written, log compacted',
        );
      });
    });
  }
}
