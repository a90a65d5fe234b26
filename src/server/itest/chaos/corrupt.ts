// Damage to a stopped member's data dir, for the chaos run's `corrupt` fault (docs/chaos.md), and
// what recovery must make of it (docs/storage.md, "Recovery rules"):
//   torn   a record that was never acknowledged, torn: a valid header, its payload written only up
//          to a sector boundary, zeros after (a crash mid-write) — repaired, the node serves
//   flip   one byte of a complete record that is not the segment's last (fsynced, maybe
//          acknowledged data) — refused: the log may hold acknowledged records past the damage
//   cut    the last segment cut short (a copy or a file system that lost the end) — refused
//   snap   one byte of the snapshot file (none yet: a flip instead) — refused
// A flip in the last complete record or a torn-looking cut of it are left out on purpose: no WAL
// can tell those from a crash mid-write, and "repairing" them drops a record that may have been
// acknowledged — outside the fault model (fsynced bytes stay), whatever the storage does.
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEADER_BYTES, scanFrames, sealFrame } from '../../../storage/frame.ts';
import { SNAPSHOT_FILE } from '../../../storage/snapshot_file.ts';

export const DAMAGES = ['torn', 'flip', 'cut', 'snap'] as const;
export type Damage = (typeof DAMAGES)[number];

export interface Damaged {
  readonly damage: Damage;
  readonly file: string;
  readonly detail: string;
  /** What recovery must do: serve (repair a torn tail) or refuse to start. */
  readonly expect: 'serve' | 'refuse';
  /** Puts the file back as it was (a restored copy), for when no spare can replace the member. */
  readonly undo: () => void;
}

const SECTOR_BYTES = 512;
const ENTRY_RECORD = 3;

function lastSegment(dir: string): string {
  const segs = readdirSync(dir)
    .filter((f) => /^\d{16}\.wal$/.test(f))
    .sort();
  const last = segs[segs.length - 1];
  if (last === undefined) throw new Error(`no WAL segment in ${dir}`);
  return join(dir, last);
}

/** Damages `dir` (its node stopped) as `damage` says; `rand` picks offsets. */
export function damage(dir: string, kind: Damage, rand: () => number): Damaged {
  const snap = join(dir, SNAPSHOT_FILE);
  if (kind === 'snap') {
    let size = 0;
    try {
      size = statSync(snap).size;
    } catch {
      // no snapshot yet
    }
    if (size > 0) {
      const before = readFileSync(snap);
      const at = Math.floor(rand() * size);
      const after = Buffer.from(before);
      after[at] = (after[at] as number) ^ 0xff;
      writeFileSync(snap, after);
      return {
        damage: kind,
        file: snap,
        detail: `byte ${at} of ${size} flipped`,
        expect: 'refuse',
        undo: () => writeFileSync(snap, before),
      };
    }
    kind = 'flip';
  }
  const file = lastSegment(dir);
  const before = readFileSync(file);
  const undo = (): void => writeFileSync(file, before);
  const { frames, end } = scanFrames(before);
  const last = frames[frames.length - 1];
  if (end.kind === 'corrupt' || last === undefined)
    throw new Error(`${file} is already damaged: ${JSON.stringify(end)}`);
  // Where the records end (a torn tail, if the node left one, is repaired before the damage).
  const used = end.kind === 'torn' ? end.offset : last.end;
  if (kind === 'cut') {
    const cutTo = Math.max(0, used - Math.floor(rand() * Math.min(used, 4096)));
    truncateSync(file, cutTo);
    return {
      damage: kind,
      file,
      detail: `cut from ${before.length} to ${cutTo} bytes (records end at ${used})`,
      expect: 'refuse',
      undo,
    };
  }
  const after = Buffer.from(before);
  if (kind === 'flip' && frames.length >= 2) {
    // Any complete record but the last: its bytes were fsynced before the last one was written.
    const f = frames[Math.floor(rand() * (frames.length - 1))]!;
    const at = f.offset + Math.floor(rand() * (f.end - f.offset));
    after[at] = (after[at] as number) ^ (1 << Math.floor(rand() * 8));
    writeFileSync(file, after);
    return {
      damage: kind,
      file,
      detail: `bit flipped at byte ${at} (record of type ${f.type} at ${f.offset})`,
      expect: 'refuse',
      undo,
    };
  }
  // torn (or a flip with a single record: torn instead): a record after the last, cut at the first
  // sector boundary after its header; zeros from there on, as a crash mid-write leaves it.
  const boundary = Math.ceil((used + HEADER_BYTES + 1) / SECTOR_BYTES) * SECTOR_BYTES;
  const payloadBytes = boundary - used - HEADER_BYTES + 1 + Math.floor(rand() * 2000);
  const rec = Buffer.alloc(HEADER_BYTES + payloadBytes, 0x6b);
  sealFrame(rec, 0, ENTRY_RECORD, payloadBytes);
  rec.fill(0, boundary - used);
  if (used + rec.length > after.length) throw new Error(`${file}: no room for a torn record after ${used}`);
  rec.copy(after, used);
  after.fill(0, used + rec.length);
  writeFileSync(file, after);
  return {
    damage: 'torn',
    file,
    detail: `a torn ${payloadBytes}-byte record at ${used}, zeros from ${boundary}`,
    expect: 'serve',
    undo,
  };
}

/** A refusal must say which file is damaged, and never look like a crash (exit code ≠ 0, no stack). */
export function refusalProblem(log: string, exitCode: number | null, d: Damaged): string | null {
  if (exitCode === 0 || exitCode === null) return `exit code ${exitCode} refusing a damaged data dir (${d.detail})`;
  const name = d.file.split('/').pop() as string;
  if (!log.includes(name)) return `the refusal does not name ${name} (${d.detail}); log ends:\n${log.slice(-1500)}`;
  return null;
}
