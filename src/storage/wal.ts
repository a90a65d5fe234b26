// The segmented write-ahead log (issue 4). Write path: append() frames records into a memory buffer,
// sync() writes the buffer with one write and fsyncs it — only after sync() returns may anything that
// depends on those records be acknowledged (the Ready contract in src/raft/types.ts). Segments
// rotate at `segmentSizeBytes`; each starts with a segment-start record and re-records the current
// snapshot marker and hard state, so the folder can be replayed from its first remaining segment
// once older ones are deleted by compact(). Each segment is created whole (createSegment): its full
// size is durable before records are written into it, so a shorter file is a cut, not a torn write
// (segment_tail.ts). Format and rules: docs/storage.md.
import { posix } from 'node:path';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import type { Fd, FileSystem } from './fs.ts';
import { HEADER_BYTES, MAX_RECORD_BYTES } from './frame.ts';
import { PendingRecords } from './wal_pending.ts';
import { WalIndex } from './wal_index.ts';
import { segmentSizeOf, type WalOptions } from './wal_options.ts';
import { readWalEntries } from './wal_read.ts';
import * as rec from './records.ts';
import { recoverDir, segmentName, type SegmentInfo, type TailRepair } from './recovery.ts';
import { finishRotations, SEAL_FRAME_BYTES, sealFrame, SEGMENT_TEMP_SUFFIX } from './segment_seal.ts';
import { segmentHeader } from './segment_tail.ts';
import {
  readSnapshotFile,
  SNAPSHOT_FILE,
  SNAPSHOT_SAVE_TEMP_FILE,
  SNAPSHOT_TEMP_FILE,
  writeSnapshotFile,
  type Snapshot,
  type SnapshotFileLayout,
} from './snapshot_file.ts';

export { DEFAULT_SEGMENT_SIZE_BYTES, type WalOptions } from './wal_options.ts';

export interface WalState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /** The log after the snapshot, in index order (first index = snapshot index + 1, or 1). */
  readonly entries: Entry[];
  /** The snapshot file recovery checked (its meta is `snapshot`): a restart restores from it in pieces. */
  readonly snapshotFile: SnapshotFileLayout | null;
}

export interface WalOpenResult {
  readonly wal: Wal;
  readonly state: WalState;
  /** The torn tail that was truncated away, if any; the node should log it. */
  readonly repaired: { readonly file: string; readonly offset: number; readonly bytesDropped: number } | null;
}

interface LiveSegment {
  readonly seq: number;
  readonly name: string;
  readonly lastIndexBefore: number;
}

export class Wal {
  private fd: Fd;
  /** Bytes written to the current segment (excluding `pending`). */
  private writtenBytes: number;
  /** Records framed and not yet written (wal_pending.ts). */
  private readonly pending = new PendingRecords();
  /** Written (but not fsynced) bytes exist in the current segment. */
  private unsynced = false;
  private closed = false;
  /** The size the current segment was created with: records are written inside it, never past. */
  private reservedBytes: number;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly segmentSizeBytes: number,
    private readonly segments: LiveSegment[],
    private readonly log: WalIndex,
    private hardState: HardState,
    private snapshot: SnapshotMeta | null,
    current: { fd: Fd; writtenBytes: number; reservedBytes: number },
  ) {
    this.fd = current.fd;
    this.writtenBytes = current.writtenBytes;
    this.reservedBytes = current.reservedBytes;
  }

  /** Recovers `dir` (creating it if needed). Throws StorageCorruptError if the node must not start. */
  static open(fs: FileSystem, dir: string, opts: WalOptions = {}): WalOpenResult {
    const segmentSizeBytes = segmentSizeOf(opts);
    fs.mkdirp(dir);
    const r = recoverDir(fs, dir);
    // Snapshot writes that never reached their rename.
    for (const name of [SNAPSHOT_TEMP_FILE, SNAPSHOT_SAVE_TEMP_FILE]) {
      const tmp = posix.join(dir, name);
      if (fs.exists(tmp)) fs.unlink(tmp);
    }
    finishRotations(fs, dir, r.segments);
    const log = WalIndex.recovered(r.log, r.locations);
    const segments = r.segments.map((s) => ({ seq: s.seq, name: s.name, lastIndexBefore: s.lastIndexBefore }));
    const last = r.segments[r.segments.length - 1];
    const state: WalState = {
      hardState: r.hardState,
      snapshot: r.snapshot,
      entries: [...r.log.all()],
      snapshotFile: r.snapshotFile,
    };
    const repaired =
      r.repair === null ? null : { file: r.repair.file, offset: r.repair.offset, bytesDropped: r.repair.bytesDropped };
    const wal = Wal.resume(fs, dir, segmentSizeBytes, segments, log, r, last);
    return { wal, state, repaired };
  }

  private static resume(
    fs: FileSystem,
    dir: string,
    segmentSizeBytes: number,
    segments: LiveSegment[],
    log: WalIndex,
    r: { hardState: HardState; snapshot: SnapshotMeta | null; repair: TailRepair | null },
    last: SegmentInfo | undefined,
  ): Wal {
    if (last === undefined || last.records === 0) {
      // Fresh folder, or (before session 10) a last segment whose header never became durable:
      // (re)create it. A segment created whole is never without its header (segment_tail.ts).
      const kept = segments.slice(0, last === undefined ? 0 : -1);
      const current = { fd: -1, writtenBytes: 0, reservedBytes: 0 };
      const wal = new Wal(fs, dir, segmentSizeBytes, kept, log, r.hardState, r.snapshot, current);
      wal.createSegment(last?.seq ?? 0, 0);
      return wal;
    }
    const path = posix.join(dir, last.name);
    const repair = r.repair;
    if (repair?.how === 'truncate') fs.truncate(path, repair.offset);
    const fd = fs.open(path, { create: false });
    if (repair?.how === 'zero') fs.writeAt(fd, repair.offset, new Uint8Array(repair.bytesDropped));
    if (repair !== null) fs.fsync(fd); // the repair itself must be durable before new records follow
    const wal = new Wal(fs, dir, segmentSizeBytes, segments, log, r.hardState, r.snapshot, {
      fd,
      writtenBytes: last.sizeBytes,
      reservedBytes: last.reservedBytes,
    });
    // A segment from before session 10 is not written into again: new records go to one created
    // whole, so that from now on a cut is told from a torn write (it stays a sealed, fsynced segment).
    if (last.reservedBytes === 0) wal.rotate(0);
    return wal;
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }
  firstIndex(): number {
    return this.log.baseIndex + 1;
  }
  /** Live segments, oldest first (for metrics and tests). */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Buffers entries (an entry at an index that exists replaces it and everything after it) and then
   * the hard state. Not durable until sync(). Entries must be contiguous and start at most one past
   * the last index, above the snapshot.
   */
  append(entries: readonly Entry[], hardState: HardState | null): void {
    this.assertOpen();
    const first = entries[0];
    if (first !== undefined) {
      if (!(first.index > this.log.baseIndex && first.index <= this.log.lastIndex() + 1)) {
        throw new Error(
          `Wal.append: entry ${first.index} outside (${this.log.baseIndex}, ${this.log.lastIndex() + 1}]`,
        );
      }
      // record() before changing this.log: a rotation inside record() must see the log as it is on disk.
      if (first.index <= this.log.lastIndex()) {
        this.record(rec.RecordType.Truncate, rec.encodeTruncate(first.index));
        this.log.truncateFrom(first.index);
      }
      for (const e of entries) {
        if (e.index !== this.log.lastIndex() + 1) throw new Error(`Wal.append: entries not contiguous at ${e.index}`);
        if (e.term < this.log.lastTerm())
          throw new Error(`Wal.append: entry ${e.index} term ${e.term} < ${this.log.lastTerm()}`);
        const offset = this.recordEntry(e);
        this.log.push(e.term, this.segments[this.segments.length - 1]!.seq, offset);
      }
    }
    if (hardState !== null) {
      this.record(rec.RecordType.HardState, rec.encodeHardState(hardState));
      this.hardState = hardState;
    }
  }

  /** Writes buffered records and fsyncs. Returns true if an fsync was issued. */
  sync(): boolean {
    this.assertOpen();
    this.flush();
    if (!this.unsynced) return false;
    this.fs.fsync(this.fd);
    this.unsynced = false;
    return true;
  }

  /**
   * Saves a snapshot atomically, then records a durable snapshot marker (Raft's install rule: the
   * log keeps what follows (index, term) if it has that entry, else is discarded).
   */
  saveSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.assertOpen();
    if (this.snapshot !== null && meta.index < this.snapshot.index) {
      throw new Error(`Wal.saveSnapshot: index ${meta.index} older than current snapshot ${this.snapshot.index}`);
    }
    // Earlier records become durable first, so after a crash the folder holds either everything
    // before the snapshot, or that plus the snapshot — never a snapshot over a partial prefix.
    this.sync();
    writeSnapshotFile(this.fs, this.dir, meta, data);
    this.recordSnapshot(meta);
  }

  /**
   * The ordered half of saving the node's own snapshot: the file was written and fsynced beside the
   * WAL as SNAPSHOT_SAVE_TEMP_FILE (snapshot_save.ts) while appends went on. Syncs what is pending,
   * renames the file into place, fsyncs the folder, then records the marker as saveSnapshot does.
   * Returns false, and removes the file, when a snapshot at or past `meta` is already in place (one
   * installed from the leader while this one was being written).
   */
  adoptSnapshotFile(meta: SnapshotMeta): boolean {
    this.assertOpen();
    const tmp = posix.join(this.dir, SNAPSHOT_SAVE_TEMP_FILE);
    if (this.snapshot !== null && meta.index <= this.snapshot.index) {
      if (this.fs.exists(tmp)) this.fs.unlink(tmp);
      return false;
    }
    // As in saveSnapshot: the entries the snapshot covers are durable before the file is in place.
    this.sync();
    this.fs.rename(tmp, posix.join(this.dir, SNAPSHOT_FILE));
    this.fs.fsyncDir(this.dir);
    this.recordSnapshot(meta);
    return true;
  }

  /**
   * Installs a snapshot received from the leader that is already a whole snapshot file at `path` in
   * this folder (the transport's spool, snapshot_spool.ts; issue 16): as saveSnapshot, except that the
   * file is fsynced and renamed into place instead of written from a copy of its bytes.
   */
  adoptReceivedSnapshot(meta: SnapshotMeta, path: string): void {
    this.assertOpen();
    if (this.snapshot !== null && meta.index < this.snapshot.index) {
      throw new Error(
        `Wal.adoptReceivedSnapshot: index ${meta.index} older than current snapshot ${this.snapshot.index}`,
      );
    }
    // As in saveSnapshot: what came before is durable before the snapshot is in place.
    this.sync();
    const fd = this.fs.open(path, { create: false });
    try {
      this.fs.fsync(fd);
    } finally {
      this.fs.close(fd);
    }
    this.fs.rename(path, posix.join(this.dir, SNAPSHOT_FILE));
    this.fs.fsyncDir(this.dir);
    this.recordSnapshot(meta);
  }

  /** After the snapshot file is in place: its marker, durable (the install rule on replay). */
  private recordSnapshot(meta: SnapshotMeta): void {
    this.record(rec.RecordType.Snapshot, rec.encodeSnapshotMeta(meta));
    this.snapshot = meta;
    this.log.applySnapshot(meta.index, meta.term);
    this.sync();
  }

  /** The saved snapshot read whole, or null (a server's restart reads WalState.snapshotFile in pieces). */
  loadSnapshot(): Snapshot | null {
    return readSnapshotFile(this.fs, this.dir);
  }

  /**
   * Deletes segments holding only entries at or below `index`, which must be covered by the saved
   * snapshot. Syncs first so the next segment's start (which re-records hard state and snapshot
   * marker) is durable before anything it replaces disappears.
   */
  compact(index: number): number {
    this.assertOpen();
    if (this.snapshot === null || index > this.snapshot.index) {
      throw new Error(`Wal.compact: ${index} is past the snapshot (${this.snapshot?.index ?? 'none'})`);
    }
    this.sync();
    let deleted = 0;
    // segments[k] may go when segments[k+1] began at or below `index`: all of k's entries are <= index.
    while (this.segments.length > 1 && this.segments[1]!.lastIndexBefore <= index) {
      const seg = this.segments.shift()!;
      this.fs.unlink(posix.join(this.dir, seg.name));
      // One folder sync per unlink keeps deletions in order: never a gap in the sequence.
      this.fs.fsyncDir(this.dir);
      deleted++;
    }
    this.log.compactTo(Math.min(index, this.log.lastIndex()));
    return deleted;
  }

  close(): void {
    if (this.closed) return;
    this.sync();
    this.fs.close(this.fd);
    this.closed = true;
  }

  /** Buffers one record (rotating first if the segment is full); returns its offset in the current segment. */
  private record(type: number, payload: Uint8Array): number {
    this.makeRoomInSegment(HEADER_BYTES + payload.length);
    const offset = this.writtenBytes + this.pending.bytes;
    this.pending.add(type, payload);
    return offset;
  }

  /** record() of an entry, its payload written straight into the pending buffer. */
  private recordEntry(e: Entry): number {
    this.makeRoomInSegment(HEADER_BYTES + rec.entryPayloadBytes(e));
    const offset = this.writtenBytes + this.pending.bytes;
    this.pending.addEntry(e);
    return offset;
  }

  /**
   * Rotates first when a record of `frameBytes` would take the current segment past the size it was
   * created with — also when it holds only its header: the next one is created big enough for it.
   */
  private makeRoomInSegment(frameBytes: number): void {
    // Before a rotation: a record too large to frame changes nothing.
    if (frameBytes - HEADER_BYTES > MAX_RECORD_BYTES)
      throw new Error(`frame: payload ${frameBytes - HEADER_BYTES} bytes > ${MAX_RECORD_BYTES}`);
    // The seal's room stays free: it is written after the last record, inside the size (rotate()).
    if (this.writtenBytes + this.pending.bytes + frameBytes + SEAL_FRAME_BYTES > this.reservedBytes)
      this.rotate(frameBytes);
  }

  /** Entries [lo, hi] read back by index (wal_read.ts; issue 16); null when lo is not in the log. */
  readEntries(lo: number, hi: number, maxBytes: number): Entry[] | null {
    this.assertOpen();
    if (lo <= this.log.baseIndex || lo > this.log.lastIndex()) return null;
    this.flush(); // buffered records to the file (no fsync): every entry appended is readable
    const current = { seq: this.segments[this.segments.length - 1]!.seq, fd: this.fd };
    return readWalEntries({ fs: this.fs, dir: this.dir, index: this.log, current }, lo, hi, maxBytes);
  }

  /**
   * Syncs the current segment, creates the next (room for a `frameBytes` record after its header),
   * then seals the one closed, fdatasynced (segment_seal.ts): never a seal without its successor, and
   * durable before anything in the next can be acknowledged (this runs inside append()).
   */
  private rotate(frameBytes: number): void {
    this.sync();
    const closing = { fd: this.fd, seq: this.segments[this.segments.length - 1]!.seq, at: this.writtenBytes };
    try {
      this.createSegment(closing.seq + 1, frameBytes);
      // Inside its size (makeRoomInSegment keeps the room) but in a segment from before session 11.
      this.fs.writeAt(closing.fd, closing.at, sealFrame(closing.seq));
      this.fs.fsync(closing.fd);
    } finally {
      this.fs.close(closing.fd);
    }
  }

  /**
   * Creates segment `seq` whole under a temporary name — extended to its full size (sparse), its
   * header records written (the start records that size), fsynced — then renames it into place and
   * fsyncs the folder: a segment under its name always has its header and size durable. One fsync
   * and a rename per segment, none per batch (docs/storage.md "Cuts and torn writes").
   */
  private createSegment(seq: number, frameBytes: number): void {
    const path = posix.join(this.dir, segmentName(seq));
    const tmp = path + SEGMENT_TEMP_SUFFIX;
    const fd = this.fs.open(tmp, { create: true });
    this.fd = fd;
    this.writtenBytes = 0;
    const start = { seq, lastIndexBefore: this.log.lastIndex(), lastTermBefore: this.log.lastTerm() };
    const header = segmentHeader(start, this.snapshot, this.hardState, this.segmentSizeBytes, frameBytes);
    this.reservedBytes = header.reservedBytes;
    for (const [type, payload] of header.records) this.pending.add(type, payload);
    this.fs.truncate(tmp, this.reservedBytes);
    this.flush();
    this.fs.fsync(fd);
    this.unsynced = false;
    this.fs.rename(tmp, path);
    this.fs.fsyncDir(this.dir);
    this.segments.push({ seq, name: segmentName(seq), lastIndexBefore: start.lastIndexBefore });
  }

  private flush(): void {
    if (this.pending.bytes === 0) return;
    const bytes = this.pending.framed();
    // Inside the size the segment was created with: the file's size never changes per batch.
    this.fs.writeAt(this.fd, this.writtenBytes, bytes);
    this.writtenBytes += bytes.length;
    this.pending.written();
    this.unsynced = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('Wal: used after close()');
  }
}
