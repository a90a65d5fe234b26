// The data dir's format marker (docs/operations.md, "Compatibility"; docs/storage.md "Cluster
// identity"): which on-disk format the folder is in and which leasekv last wrote it, kept in the
// identity record (`dataFormat`, `writtenBy`). Builds before 0.2.0 write no marker and ignore it.
//
// Formats, by what a reader must understand:
//   1  segments that grow by appends (segment start with three fields) — before session 10
//   2  segments created whole at their reserved size (session 10)
//   3  sealed segments (record type 6, session 11); the marker itself (0.2.0)
// A folder without a marker is 1–3: this build opens it and upgrades it in place (Wal.open seals
// and rotates), then records format 3. A folder marked with a newer format is refused before
// anything in it is read or changed: an older build must never guess at records it does not know.
import { readIdentity } from './identity.ts';

/** The format this build writes. */
export const DATA_FORMAT = 3;
/** The oldest format this build opens (and upgrades in place to DATA_FORMAT). */
export const MIN_DATA_FORMAT = 1;

/** A data dir in a format this build cannot read: written by a newer leasekv. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
}

/** The marker of `dir`: its format and last writer, or null (none yet: before 0.2.0, or no identity). */
export function readDataFormat(dir: string): { format: number; writtenBy: string } | null {
  const rec = readIdentity(dir);
  if (rec === null || rec.dataFormat === undefined) return null;
  return { format: rec.dataFormat, writtenBy: rec.writtenBy ?? '' };
}

/** Throws DataFormatError when `dir` is marked with a format this build does not read. */
export function checkDataFormat(dir: string, software: string): void {
  const m = readDataFormat(dir);
  if (m === null || (m.format >= MIN_DATA_FORMAT && m.format <= DATA_FORMAT)) return;
  const by = m.writtenBy === '' ? 'another leasekv' : `leasekv ${m.writtenBy}`;
  throw new DataFormatError(
    `the data dir ${dir} is in data format ${m.format}, last written by ${by}; this leasekv ${software} reads data formats ${MIN_DATA_FORMAT} to ${DATA_FORMAT}. ` +
      `Nothing in it was changed. Run ${by} or newer on it; to go back to this version, replace the member or restore the cluster from a backup (docs/operations.md, "Downgrading")`,
  );
}
