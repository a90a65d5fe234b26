// Where a segment's records end, and whether what follows is a torn write (repaired) or a cut
// (refused). Segments written since session 10 are created at their full size — zero-extended, their
// first records written and fsynced, and only then given their name — and that size is recorded in
// their segment-start record: a crash can then leave garbage after the last complete record (a torn
// write, zeroed on repair) but never a shorter file. Older segments grow by appends, where a cut and
// a torn write look alike. Rules: docs/storage.md "Cuts and torn writes".
import type { HardState, SnapshotMeta } from '../raft/types.ts';
import { StorageCorruptError, WalCutError } from './errors.ts';
import { HEADER_BYTES, lastNonZeroFrom, type Frame } from './frame.ts';
import type { SegmentBytes } from './segment_read.ts';
import * as rec from './records.ts';
import { isTornSeal, SEAL_FRAME_BYTES } from './segment_seal.ts';

export interface TailRepair {
  readonly file: string;
  readonly offset: number;
  readonly bytesDropped: number;
  readonly why: string;
  /** 'truncate' the file at `offset` (an old segment), or 'zero' [offset, offset + bytesDropped). */
  readonly how: 'truncate' | 'zero';
}

export interface SegmentRead {
  readonly frames: Frame[];
  /** Offset just past the last complete record. */
  readonly dataEnd: number;
  /** The size the segment was created with; 0 for a segment from before session 10. */
  readonly reservedBytes: number;
  readonly repair: TailRepair | null;
}

/**
 * Scans one segment's bytes (segment `seq`). Throws StorageCorruptError for damage, WalCutError for
 * a segment shorter than it was created. `prevReservedBytes`: the previous segment's (0 if none or old).
 */
export function readSegment(
  path: string,
  seq: number,
  seg: SegmentBytes,
  isLast: boolean,
  prevReservedBytes: number,
): SegmentRead {
  const { bytes, sizeBytes } = seg;
  const { frames, end } = seg.scan;
  const reservedBytes = reservedOf(frames[0]);
  // A crash while a segment was being sealed, after its successor was created (segment_seal.ts): the
  // records before are whole and fsynced, what follows is a part of the seal; Wal.open seals it again.
  const tornSeal =
    !isLast &&
    end.kind !== 'clean' &&
    frames.length > 0 &&
    isTornSeal(bytes, sizeBytes, end.offset, seq, reservedBytes);
  if (end.kind === 'corrupt' && !tornSeal) throw new StorageCorruptError(path, end.offset, end.why);
  if (reservedBytes > 0 && sizeBytes < reservedBytes)
    throw new WalCutError(path, sizeBytes, reservedBytes, 'WAL segment shorter than it was created');
  if (frames.length === 0 && isLast && prevReservedBytes > 0)
    throw new WalCutError(path, sizeBytes, null, 'WAL segment without a complete first record');
  if (end.kind === 'clean') return { frames, dataEnd: sizeBytes, reservedBytes, repair: null };
  if (tornSeal) return { frames, dataEnd: end.offset, reservedBytes, repair: null };
  // (bytes may stop short of sizeBytes only where every byte after it is zero: segment_read.ts)
  const dirtyEnd = reservedBytes > 0 ? lastNonZeroFrom(bytes, end.offset) + 1 : sizeBytes;
  // A segment created whole ends in its unused zeros: the clean end, in every segment.
  if (dirtyEnd <= end.offset) return { frames, dataEnd: end.offset, reservedBytes, repair: null };
  if (!isLast)
    throw new StorageCorruptError(
      path,
      end.offset,
      `${end.why} in a segment that is not the last (it was fsynced before the next one was created)`,
    );
  const repair: TailRepair = {
    file: path,
    offset: end.offset,
    bytesDropped: dirtyEnd - end.offset,
    why: end.why,
    how: reservedBytes > 0 ? 'zero' : 'truncate',
  };
  return { frames, dataEnd: end.offset, reservedBytes, repair };
}

/** The reservation its segment-start record names; 0 when absent or unreadable (replay refuses those). */
function reservedOf(first: Frame | undefined): number {
  if (first?.type !== rec.RecordType.SegmentStart) return 0;
  try {
    return rec.decodeSegmentStart(first.payload).reservedBytes;
  } catch (e) {
    if (e instanceof rec.PayloadError) return 0;
    throw e;
  }
}

/**
 * A new segment's header records — its start (which records its size), the snapshot marker and
 * the hard state — and that size: `minBytes` (the configured segment size), or more when the
 * header and a `frameBytes` record would not fit in it (a record bigger than a segment).
 */
export function segmentHeader(
  start: Omit<rec.SegmentStart, 'reservedBytes'>,
  snapshot: SnapshotMeta | null,
  h: HardState,
  minBytes: number,
  frameBytes: number,
): { records: [number, Uint8Array][]; reservedBytes: number } {
  const rest: [number, Uint8Array][] = [];
  if (snapshot !== null) rest.push([rec.RecordType.Snapshot, rec.encodeSnapshotMeta(snapshot)]);
  if (h.term !== 0 || h.commit !== 0 || h.votedFor !== null)
    rest.push([rec.RecordType.HardState, rec.encodeHardState(h)]);
  const startBytes = HEADER_BYTES + rec.encodeSegmentStart({ ...start, reservedBytes: 1 }).length;
  const headerBytes = rest.reduce((n, [, p]) => n + HEADER_BYTES + p.length, startBytes);
  // Room for the seal too: it goes after the last record, inside the size (segment_seal.ts).
  const reservedBytes = Math.max(minBytes, headerBytes + frameBytes + SEAL_FRAME_BYTES);
  const first: [number, Uint8Array] = [
    rec.RecordType.SegmentStart,
    rec.encodeSegmentStart({ ...start, reservedBytes }),
  ];
  return { records: [first, ...rest], reservedBytes };
}
