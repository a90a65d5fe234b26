// The host's snapshots (docs/storage.md): taking one every snapshotThresholdEntries applied entries
// or snapshotThresholdBytes applied bytes, whichever comes first, and compacting the log (the log
// since the last snapshot is what the core holds in memory: the bytes bound keeps it bounded), and sending one to a follower that is too far behind. Installing one from
// the leader is part of the Ready handling (drive.ts).

import type { LogRead, SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import type { ReceivedSnapshot } from './types.ts';
import type { ReceivedSnapshotData } from '../transport/spool.ts';
import { HostDrive } from './drive.ts';
import { rootMessage } from './root-message.ts';

export abstract class HostSnapshots extends HostDrive {
  /**
   * The core re-offers a snapshot on every heartbeat round until the follower has it. One transfer
   * per follower at a time: a re-offer while one is streaming is dropped, and the bytes read from
   * disk are kept (one snapshot, by index) for the next follower or a restarted transfer.
   */
  protected override sendSnapshot(msg: SnapshotRequest): void {
    if (this.transport.snapshotInProgress(msg.to) || this.snapshotLoading.has(msg.to)) return;
    if (this.storage.openSnapshotSource !== undefined && this.transport.sendSnapshotFrom !== undefined)
      return this.sendSnapshotFromFile(msg);
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

  /**
   * The server: the file is checked, then read a chunk at a time as the transfer asks (issue 16),
   * one open file per transfer, closed when it ends — nothing snapshot-sized is held.
   */
  private sendSnapshotFromFile(msg: SnapshotRequest): void {
    this.snapshotLoading.add(msg.to);
    this.storage.openSnapshotSource?.((err, src) => {
      this.snapshotLoading.delete(msg.to);
      if (this.stopped || (err !== null && err !== undefined)) {
        src?.release();
        if (!this.stopped) this.log.error({ err, to: msg.to }, 'reading snapshot to send failed');
        return;
      }
      if (src === null || src.meta.index !== msg.snapshot.index) {
        src?.release();
        this.log.warn({ to: msg.to, index: msg.snapshot.index }, 'snapshot to send is gone; the core will ask again');
        return;
      }
      this.log.info({ to: msg.to, index: src.meta.index, bytes: src.totalBytes }, 'sending snapshot');
      if (this.transport.sendSnapshotFrom === undefined) return src.release();
      this.transport.sendSnapshotFrom(msg, src);
    });
  }

  /**
   * One of Ready.logReads (issue 16: the core keeps a window of the log; a lagging follower's older
   * entries are read back from the log, durable already). Answered whenever the read completes: the
   * core drops an answer that is stale by then, and falls back to the snapshot when they are gone.
   */
  protected override readLog(r: LogRead): void {
    this.storage.readEntries(r.lo, r.hi, r.maxBytes, (err, entries) => {
      if (this.stopped) return;
      if (err !== null && err !== undefined) {
        // Not fatal here: the follower is offered the snapshot or the read is asked again; a damaged
        // segment also stops the node at its next restart (recovery checks every record).
        this.log.error(
          { err: rootMessage(err), lo: r.lo, hi: r.hi, to: r.to },
          'reading log entries for a follower failed',
        );
      }
      this.core.entriesRead(r, err !== null && err !== undefined ? null : entries, this.now());
      this.schedule();
    });
  }

  /**
   * A snapshot at an index already held is the same state (the entry at that index is committed; a
   * state machine's snapshot depends only on the log up to it): a second copy — a leader re-offers
   * it while this node still installs the first, and a new leader sends its own — is not kept too.
   */
  protected override onPeerSnapshot(msg: SnapshotRequest, data: ReceivedSnapshotData): void {
    // The core installs none at or below its commit index.
    const keep = msg.snapshot.index > this.kv.appliedIndex && !this.stopped;
    if (!keep || this.incomingSnapshots.has(msg.snapshot.index)) {
      this.releaseReceived({ meta: msg.snapshot, data });
    } else {
      // Bounded; installs drop older ones.
      if (this.incomingSnapshots.size >= 4) for (const i of [...this.incomingSnapshots.keys()]) this.dropIncoming(i);
      this.incomingSnapshots.set(msg.snapshot.index, { meta: msg.snapshot, data });
    }
    this.onPeerMessage(msg);
  }

  /** The received snapshot being installed: its spool file is renamed into place meanwhile. */
  private install: ReceivedSnapshot | null = null;

  /** Forgets the received snapshot at `index`, its spool file with it. */
  protected override dropIncoming(index: number): void {
    const s = this.incomingSnapshots.get(index);
    if (s === undefined) return;
    this.incomingSnapshots.delete(index);
    this.releaseReceived(s);
  }

  /** A received snapshot's spool file is removed, unless it is the one being installed. */
  private releaseReceived(s: ReceivedSnapshot): void {
    if (s !== this.install && !(s.data instanceof Uint8Array)) s.data.release();
  }

  protected override installing(s: ReceivedSnapshot): ReceivedSnapshotData {
    this.install = s;
    return s.data;
  }

  /** The install's restore and persist are done (or the node stopped): its file is let go. */
  protected override installed(s: ReceivedSnapshot): void {
    if (this.install === s) this.install = null;
    this.releaseReceived(s);
  }

  /**
   * Whether an offered snapshot is worth receiving, asked by the transport before it allocates or
   * stores anything for it (issue 16; src/transport/inbound.ts). Read-only. 'stale': sent in an
   * earlier term (the core drops it, and tells the sender the newer term). 'have': at or below the
   * commit index — the core installs none there and answers with its commit index
   * (replication.ts, handleSnapshot) — or the same index was received already and waits for its
   * install (onPeerSnapshot). The transport then steps the bare SnapshotRequest, which needs no data
   * in either case.
   */
  judgeSnapshotOffer(msg: SnapshotRequest): 'accept' | 'have' | 'stale' {
    if (this.stopped) return 'stale';
    if (msg.term < this.core.term) return 'stale';
    const index = msg.snapshot.index;
    if (index <= this.core.status(this.now()).commit || this.incomingSnapshots.has(index)) return 'have';
    return 'accept';
  }

  /** kv.appliedEntryBytes when the last snapshot was started. */
  private snapshotBytesMark = 0;

  /**
   * The snapshot bytes kept for sending are as large as the data (~120 MiB for a million keys): let
   * them go once no follower is being sent one (a later transfer reads the file again).
   */
  private dropIdleSnapshotCopy(): void {
    if (this.outgoingSnapshot === null || this.snapshotLoading.size > 0) return;
    const conf = this.core.confState();
    for (const id of [...conf.voters, ...conf.learners]) if (this.transport.snapshotInProgress(id)) return;
    this.outgoingSnapshot = null;
  }

  /**
   * Received snapshots at or below the applied index are never installed (the core installs only
   * above its commit index; replication.ts, handleSnapshot): one sent by an earlier leader, which the
   * log has since passed, would otherwise be held until four more arrived (each as large as the data).
   */
  private dropPassedIncoming(): void {
    for (const i of [...this.incomingSnapshots.keys()]) if (i <= this.kv.appliedIndex) this.dropIncoming(i);
  }

  /** Take a snapshot every snapshotThresholdEntries applied entries or snapshotThresholdBytes, then compact the log. */
  protected override maybeSnapshot(): void {
    this.dropIdleSnapshotCopy();
    if (this.incomingSnapshots.size > 0) this.dropPassedIncoming();
    if (this.snapshotting) return;
    const entries = this.kv.appliedIndex - this.lastSnapshotIndex;
    const appliedBytes = this.kv.appliedEntryBytes - this.snapshotBytesMark;
    const byBytes = entries > 0 && appliedBytes >= (this.hc.snapshotThresholdBytes ?? Infinity);
    if (entries < this.hc.snapshotThresholdEntries && !byBytes) return;
    this.snapshotBytesMark = this.kv.appliedEntryBytes;
    this.snapshotting = true;
    const meta: SnapshotMeta = {
      index: this.kv.appliedIndex,
      term: this.kv.appliedTerm,
      confState: this.core.confStateAt(this.kv.appliedIndex),
    };
    const startedMs = this.now();
    if (this.storage.saveSnapshotBody !== undefined) return this.saveSnapshotBody(meta, startedMs);
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
      this.storage.saveSnapshot(meta, data, (err2) => this.snapshotSaved(meta, bytes, startedMs, err2));
    });
  }

  /**
   * The server (issue 16): the state is frozen now (copy-on-write pages) and encoded a batch at a
   * time straight into the file as it is written — the snapshot is never one buffer — and the pages
   * are let go once written. Applying and heartbeats go on meanwhile, as with the slicer.
   */
  private saveSnapshotBody(meta: SnapshotMeta, startedMs: number): void {
    const body = this.kv.snapshotPieces();
    const bytes = body.totalBytes;
    this.storage.saveSnapshotBody?.(meta, body, (err) => this.snapshotSaved(meta, bytes, startedMs, err));
  }

  private snapshotSaved(meta: SnapshotMeta, bytes: number, startedMs: number, err: unknown): void {
    this.snapshotting = false;
    if (err !== null && err !== undefined) return this.fatal('writing a snapshot', err);
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
  }
}
