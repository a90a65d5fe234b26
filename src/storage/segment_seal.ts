// Seals (session 11): the last record of every segment that is not the last one says which segment
// the log goes on in. It is written, and fdatasynced, only after that next segment was created whole
// (its temporary file fsynced, renamed, the folder fsynced) and before any record in the next one
// can be acknowledged. So a last segment that carries a seal lost its successor after the fact — an
// `rm`, a copy that skipped the newest files — not in a crash, and recovery refuses it
// (WalSegmentMissingError). A segment without a seal before the last one is accepted: a crash
// between creating the next segment and sealing this one leaves that (the next then holds only its
// header), and so does a folder from before seals; Wal.open seals it. One fdatasync per segment,
// none per batch. Rules: docs/storage.md "Seals".
import { posix } from 'node:path';
import { encodeFrame, HEADER_BYTES, lastNonZeroFrom } from './frame.ts';
import type { FileSystem } from './fs.ts';
import * as rec from './records.ts';

/** A segment being created (Wal's createSegment) has this suffix until it is renamed into place. */
export const SEGMENT_TEMP_SUFFIX = '.tmp';
/** Only these are deleted at open (identity.tmp and the snapshot temp files are not the WAL's). */
export const SEGMENT_TEMP_RE = /^[0-9a-f]{16}\.wal\.tmp$/;

/** A seal's framed size: every segment keeps this much room after its records (wal.ts). */
export const SEAL_FRAME_BYTES = HEADER_BYTES + 8;

/** The seal segment `seq` gets: the log goes on in `seq + 1`. Always these bytes for a given seq. */
export function sealFrame(seq: number): Uint8Array {
  return encodeFrame(rec.RecordType.Seal, rec.encodeSeal(seq + 1));
}

/**
 * True when everything after the last complete record (`from`) of segment `seq` is what a torn seal
 * write leaves: only bytes of its seal, at their places, or zeros (sectors not written) — and, in a
 * segment from before session 10 that grew by appends, no more bytes than the seal. Nothing there
 * can be a record that was acknowledged: the segment was fsynced before its seal was written.
 * `bytes` may stop short of `sizeBytes` only where every byte after it is zero (segment_read.ts).
 */
export function isTornSeal(
  bytes: Uint8Array,
  sizeBytes: number,
  from: number,
  seq: number,
  reservedBytes: number,
): boolean {
  if (reservedBytes === 0 && sizeBytes > from + SEAL_FRAME_BYTES) return false;
  const seal = sealFrame(seq);
  if (lastNonZeroFrom(bytes, from + SEAL_FRAME_BYTES) >= from + SEAL_FRAME_BYTES) return false;
  for (let i = from; i < Math.min(bytes.length, from + SEAL_FRAME_BYTES); i++) {
    const b = bytes[i]!;
    if (b !== 0 && b !== seal[i - from]) return false;
  }
  return true;
}

/**
 * At open, what a crash inside a rotation leaves: a segment being created that never got its name
 * (deleted), and a segment left unsealed. Seals each segment that has a successor but no seal — that
 * one, and every non-last segment of a folder written before session 11 — at the end of its records
 * (over a torn seal, if any). The folder is fsynced first, so that every successor a seal names is
 * durable under its name before the seal is. Returns how many were sealed.
 */
export function finishRotations(
  fs: FileSystem,
  dir: string,
  segments: readonly { name: string; seq: number; sealed: boolean; sizeBytes: number }[],
): number {
  for (const name of fs.list(dir)) if (SEGMENT_TEMP_RE.test(name)) fs.unlink(posix.join(dir, name));
  const unsealed = segments.slice(0, -1).filter((s) => !s.sealed);
  if (unsealed.length === 0) return 0;
  fs.fsyncDir(dir);
  for (const s of unsealed) {
    const fd = fs.open(posix.join(dir, s.name), { create: false });
    try {
      fs.writeAt(fd, s.sizeBytes, sealFrame(s.seq));
      fs.fsync(fd);
    } finally {
      fs.close(fd);
    }
  }
  return unsealed.length;
}
