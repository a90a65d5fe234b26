// Reading a data folder back (read-only): replays every segment in order, checks every checksum and
// every continuity invariant, and says what a torn tail would cost. Wal.open applies the repair;
// `leasekv wal inspect` only reports. Recovery rules: docs/storage.md.
import { posix } from 'node:path';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { StorageCorruptError, WalSegmentMissingError } from './errors.ts';
import type { FileSystem } from './fs.ts';
import type { Frame } from './frame.ts';
import { LogWindow } from './log_window.ts';
import * as rec from './records.ts';
import { IDENTITY_FILE } from './identity.ts';
import { readSegmentBytes } from './segment_read.ts';
import { readSegment, type TailRepair } from './segment_tail.ts';
import { checkSnapshotFile, SNAPSHOT_FILE, type SnapshotFileLayout } from './snapshot_file.ts';

export type { TailRepair } from './segment_tail.ts';

export const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commit: 0 };
const SEGMENT_RE = /^([0-9a-f]{16})\.wal$/;

export function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

export interface SegmentInfo {
  readonly name: string;
  readonly seq: number;
  /** Bytes of valid records (a torn tail, and the unused zeros of a segment created whole, are not counted). */
  readonly sizeBytes: number;
  /** The size the segment was created with (segment_tail.ts); 0 for one from before session 10. */
  readonly reservedBytes: number;
  /** The log's last index/term when this segment was started; 0/0 if it has no header yet. */
  readonly lastIndexBefore: number;
  readonly lastTermBefore: number;
  readonly firstEntryIndex: number | null;
  readonly lastEntryIndex: number | null;
  readonly records: number;
  /** Its last record is a seal: the log goes on in the next segment (segment_seal.ts). */
  readonly sealed: boolean;
}

export interface Recovered {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /**
   * The snapshot file as checked here (both its checksum and its metadata), read in slices and
   * never held whole (issue 16): where its data is, for a restart to restore from it in pieces.
   */
  readonly snapshotFile: SnapshotFileLayout | null;
  readonly log: LogWindow<Entry>;
  /** Where each entry of `log` was read: its segment's sequence number and its record's offset. */
  readonly locations: WeakMap<Entry, { readonly seq: number; readonly offset: number }>;
  readonly segments: SegmentInfo[];
  /** Set when the last segment ends in a torn record that Wal.open will truncate away. */
  readonly repair: TailRepair | null;
}

class Replay {
  hardState: HardState = EMPTY_HARD_STATE;
  marker: SnapshotMeta | null = null;
  log: LogWindow<Entry> | null = null;
  /**
   * The first remaining segment (older ones deleted by compaction) begins at a base we cannot look
   * below. A truncation in it may reach into that deleted history (written before the snapshot that
   * allowed the deletion); it then restarts the log at from-1 with that entry's term unknown until a
   * later segment start or the snapshot names it.
   */
  private historyDeleted = false;
  baseTermUnknown = false;
  /** The segment whose seal was the last record replayed (nothing may follow it in that file). */
  sealedSeq: number | null = null;

  apply(path: string, seq: number, f: Frame, isFirstInFile: boolean): void {
    const bad = (why: string): StorageCorruptError => new StorageCorruptError(path, f.offset, why);
    if (isFirstInFile !== (f.type === rec.RecordType.SegmentStart))
      throw bad('segment does not begin with a segment-start record');
    if (this.sealedSeq === seq) throw bad('record after the segment was sealed');
    try {
      this.applyRecord(f, seq, bad);
    } catch (e) {
      if (e instanceof rec.PayloadError) throw bad(`unreadable record of type ${f.type}: ${e.message}`);
      throw e;
    }
  }

  private applyRecord(f: Frame, seq: number, bad: (why: string) => StorageCorruptError): void {
    switch (f.type) {
      case rec.RecordType.SegmentStart: {
        const s = rec.decodeSegmentStart(f.payload);
        if (s.seq !== seq) throw bad(`segment-start says segment ${s.seq}, file name says ${seq}`);
        if (this.log === null) {
          if (s.seq === 0 && s.lastIndexBefore !== 0) throw bad('first segment does not start at index 0');
          this.log = new LogWindow<Entry>((e) => e.term, s.lastIndexBefore, s.lastTermBefore);
          this.historyDeleted = s.seq !== 0;
        } else if (this.baseTermUnknown && this.log.all().length === 0 && s.lastIndexBefore === this.log.baseIndex) {
          this.log.baseTerm = s.lastTermBefore;
          this.baseTermUnknown = false;
        } else if (s.lastIndexBefore !== this.log.lastIndex() || s.lastTermBefore !== this.log.lastTerm()) {
          throw bad(
            `segment starts after ${s.lastIndexBefore}/${s.lastTermBefore} but the log so far ends at ${this.log.lastIndex()}/${this.log.lastTerm()}`,
          );
        }
        return;
      }
      case rec.RecordType.HardState:
        this.hardState = rec.decodeHardState(f.payload);
        return;
      case rec.RecordType.Entry: {
        const e = rec.decodeEntry(f.payload);
        const log = this.log!;
        if (e.index !== log.lastIndex() + 1)
          throw bad(`entry ${e.index} does not follow ${log.lastIndex()} (gap or overlap)`);
        if (e.term < log.lastTerm())
          throw bad(`entry ${e.index} has term ${e.term} below the previous ${log.lastTerm()}`);
        log.push(e);
        return;
      }
      case rec.RecordType.Truncate: {
        const from = rec.decodeTruncate(f.payload);
        const log = this.log!;
        if (from <= log.baseIndex && this.historyDeleted && from >= 1) {
          this.log = new LogWindow<Entry>((e) => e.term, from - 1, 0);
          this.baseTermUnknown = true;
          return;
        }
        if (from <= log.baseIndex || from > log.lastIndex())
          throw bad(`truncation from ${from} outside the log (${log.baseIndex}, ${log.lastIndex()}]`);
        log.truncateFrom(from);
        return;
      }
      case rec.RecordType.Snapshot: {
        const m = rec.decodeSnapshotMeta(f.payload);
        if (this.marker !== null && m.index < this.marker.index)
          throw bad(`snapshot marker ${m.index} older than ${this.marker.index}`);
        this.marker = m;
        this.installSnapshot(m);
        return;
      }
      case rec.RecordType.Seal: {
        const next = rec.decodeSeal(f.payload);
        if (next !== seq + 1) throw bad(`seal names segment ${next}, not the next one (${seq + 1})`);
        this.sealedSeq = seq;
        return;
      }
      default:
        throw bad(`unknown record type ${f.type}`);
    }
  }

  installSnapshot(m: SnapshotMeta): void {
    const log = this.log!;
    if (m.index === log.baseIndex && this.baseTermUnknown) log.baseTerm = m.term;
    if (m.index >= log.baseIndex) {
      this.baseTermUnknown = false;
      this.historyDeleted = false;
    }
    log.applySnapshot(m.index, m.term);
  }
}

/** Lists the segment files of `dir` in sequence order; throws on a gap in the sequence. */
export function listSegments(fs: FileSystem, dir: string): { seq: number; name: string }[] {
  const segs = fs
    .list(dir)
    .map((name) => ({ name, m: SEGMENT_RE.exec(name) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ name: x.name, seq: parseInt(x.m![1]!, 16) }))
    .sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1]!;
    const cur = segs[i]!;
    if (cur.seq !== prev.seq + 1)
      throw new StorageCorruptError(
        posix.join(dir, cur.name),
        0,
        `missing segment: ${segmentName(prev.seq + 1)} between ${prev.name} and ${cur.name}`,
      );
  }
  return segs;
}

/** Reads and checks the whole folder without changing it. Throws StorageCorruptError. */
export function recoverDir(fs: FileSystem, dir: string): Recovered {
  const segs = listSegments(fs, dir);
  const replay = new Replay();
  const infos: SegmentInfo[] = [];
  const locations = new WeakMap<Entry, { seq: number; offset: number }>();
  let repair: TailRepair | null = null;
  segs.forEach((seg, i) => {
    const path = posix.join(dir, seg.name);
    const isLast = i === segs.length - 1;
    const read = readSegment(path, seg.seq, readSegmentBytes(fs, path), isLast, infos[i - 1]?.reservedBytes ?? 0);
    const frames = read.frames;
    repair = read.repair;
    if (frames.length === 0 && !isLast) throw new StorageCorruptError(path, 0, 'segment has no records');
    let first: number | null = null;
    let last: number | null = null;
    frames.forEach((f, k) => {
      replay.apply(path, seg.seq, f, k === 0);
      if (f.type === rec.RecordType.Entry) {
        last = replay.log!.lastIndex();
        first ??= last;
        const e = replay.log!.all()[replay.log!.all().length - 1];
        if (e !== undefined) locations.set(e, { seq: seg.seq, offset: f.offset });
      }
    });
    const sealed = replay.sealedSeq === seg.seq;
    if (isLast && sealed) throw new WalSegmentMissingError(posix.join(dir, segmentName(seg.seq + 1)), path);
    const start = frames.length > 0 ? rec.decodeSegmentStart(frames[0]!.payload) : null;
    infos.push({
      name: seg.name,
      seq: seg.seq,
      sizeBytes: read.dataEnd,
      reservedBytes: read.reservedBytes,
      lastIndexBefore: start?.lastIndexBefore ?? 0,
      lastTermBefore: start?.lastTermBefore ?? 0,
      firstEntryIndex: first,
      lastEntryIndex: last,
      records: frames.length,
      sealed,
    });
  });
  return finish(fs, dir, replay, infos, repair, locations);
}

function finish(
  fs: FileSystem,
  dir: string,
  replay: Replay,
  infos: SegmentInfo[],
  repair: TailRepair | null,
  locations: WeakMap<Entry, { seq: number; offset: number }>,
): Recovered {
  const snapPath = posix.join(dir, SNAPSHOT_FILE);
  const snap = fs.exists(snapPath) ? checkSnapshotFile(fs, snapPath) : null;
  const log = replay.log ?? new LogWindow<Entry>((e) => e.term);
  const marker = replay.marker;
  if (marker !== null && snap === null)
    throw new StorageCorruptError(
      snapPath,
      0,
      `snapshot file missing but the log records a snapshot at index ${marker.index}`,
    );
  if (marker !== null && snap !== null && snap.meta.index < marker.index) {
    throw new StorageCorruptError(
      snapPath,
      0,
      `snapshot file is at index ${snap.meta.index}, older than the log's snapshot marker at ${marker.index}`,
    );
  }
  const first = infos[0];
  if (first === undefined && snap !== null)
    throw new StorageCorruptError(
      posix.join(dir, segmentName(0)),
      0,
      'missing segment: a snapshot exists but no log segments',
    );
  refuseLostLog(fs, dir, infos, snap !== null);
  if (first !== undefined && first.seq !== 0 && (snap === null || snap.meta.index < first.lastIndexBefore)) {
    throw new StorageCorruptError(
      posix.join(dir, first.name),
      0,
      `missing segment(s) before ${first.name}: entries up to ${first.lastIndexBefore} are neither in a segment nor in the snapshot`,
    );
  }
  // The snapshot file may be newer than the last marker (crash after the rename, before the marker
  // was durable); Raft's install rule applied again is idempotent.
  if (snap !== null) {
    replay.log ??= log;
    replay.installSnapshot(snap.meta);
  }
  return {
    hardState: replay.hardState,
    snapshot: snap?.meta ?? null,
    snapshotFile: snap,
    log,
    locations,
    segments: infos,
    repair,
  };
}

/**
 * Wal.open makes the first segment's header durable before anything else is written to the folder:
 * a snapshot, or the identity record (serve and restore write it once the storage is open). A
 * folder holding either with no durable record in any segment has lost its log — emptied or
 * deleted, not torn by a crash — and with it the member's term, vote and entries: started empty it
 * could vote twice in one term and forget entries it acknowledged (session 9 operator audit).
 */
function refuseLostLog(fs: FileSystem, dir: string, infos: readonly SegmentInfo[], hasSnapshot: boolean): void {
  if (infos.some((s) => s.records > 0)) return;
  const hasIdentity = fs.exists(posix.join(dir, IDENTITY_FILE));
  if (!hasIdentity && !hasSnapshot) return;
  const holds = hasSnapshot ? 'a snapshot' : 'an identity record';
  const file = posix.join(dir, infos[0]?.name ?? segmentName(0));
  const what =
    infos.length === 0
      ? 'no log segments'
      : `log segments without a single record (${infos.map((s) => s.name).join(', ')})`;
  throw new StorageCorruptError(
    file,
    0,
    `the log is lost: this data dir holds ${holds} but ${what}, so the member's term, vote and entries are gone`,
  );
}
