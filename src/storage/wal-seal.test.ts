// Seals (docs/storage.md "Seals", session 11): every segment but the last ends in a record naming
// its successor, written only after the successor was created whole. So a folder whose newest
// segment(s) were deleted — an `rm`, a copy that skipped the newest files — is refused
// (WalSegmentMissingError), while a crash anywhere inside a rotation still opens, and folders from
// before seals open and are sealed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Entry } from '../raft/types.ts';
import { StorageCorruptError, WalCutError, WalSegmentMissingError } from './errors.ts';
import { FaultyFs, SimulatedCrash } from './faulty_fs.ts';
import { encodeFrame, scanFrames } from './frame.ts';
import { RealFs } from './fs.ts';
import * as rec from './records.ts';
import { recoverDir, segmentName } from './recovery.ts';
import { SEAL_FRAME_BYTES, sealFrame } from './segment_seal.ts';
import { ent, snapshotMeta, tempDir } from './test-util.ts';
import { Wal } from './wal.ts';

const OPTS = { segmentSizeBytes: 1024 };
const hs = (commit: number): { term: number; votedFor: string; commit: number } => ({
  term: 3,
  votedFor: 'n2',
  commit,
});

/** A real folder written over several rotations: entries 1..n, a vote; returns its segment names. */
function written(dir: string, n: number): string[] {
  const { wal } = Wal.open(new RealFs(), dir, OPTS);
  for (let i = 1; i <= n; i++) {
    wal.append([ent(i, 3, `value-${i}-`.repeat(4))], hs(i));
    wal.sync();
  }
  wal.close();
  return wal.segmentNames();
}

const framesOf = (path: string): ReturnType<typeof scanFrames>['frames'] => scanFrames(readFileSync(path)).frames;
const listing = (dir: string): string[] => readdirSync(dir).map((f) => `${f}:${statSync(join(dir, f)).size}`);

/** The refusal a deleted newest segment gets: names the missing file, says what may be lost and what to do. */
function missing(dir: string, seq: number): (e: unknown) => boolean {
  return (e) =>
    e instanceof WalSegmentMissingError &&
    e instanceof StorageCorruptError &&
    e.file === join(dir, segmentName(seq)) &&
    e.sealedFile === join(dir, segmentName(seq - 1)) &&
    e.message.includes(`${segmentName(seq)} is not in the data dir`) &&
    /may have been acknowledged/.test(e.message) &&
    /term and vote/.test(e.message) &&
    /copy it again whole from its source/.test(e.message) &&
    /replace this member/.test(e.message);
}

test('every segment but the last ends in its seal, inside the size it was created with', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  const names = written(dir, 60);
  assert.ok(names.length >= 4, `${names.length} segments`);
  names.forEach((name, seq) => {
    const frames = framesOf(join(dir, name));
    const isLast = seq === names.length - 1;
    assert.equal(frames.at(-1)!.type === rec.RecordType.Seal, !isLast, name);
    if (!isLast) assert.equal(rec.decodeSeal(frames.at(-1)!.payload), seq + 1);
    assert.equal(statSync(join(dir, name)).size, OPTS.segmentSizeBytes, 'never written past its size');
  });
  const { state, wal } = Wal.open(new RealFs(), dir, OPTS);
  assert.equal(state.entries.length, 60);
  wal.close();
});

test('the newest segment deleted after a rotation: refused, naming it, at every start; nothing changed', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  const names = written(dir, 60);
  const last = names.length - 1;
  unlinkSync(join(dir, names[last]!));
  const before = listing(dir);
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), missing(dir, last));
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), missing(dir, last), 'again at the next start');
  assert.throws(() => recoverDir(new RealFs(), dir), missing(dir, last), '`leasekv wal inspect` says so too');
  assert.deepEqual(listing(dir), before, 'the refusal changes nothing in the folder');
});

test('the two newest segments deleted: refused, naming the first one missing', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  const names = written(dir, 60);
  const last = names.length - 1;
  unlinkSync(join(dir, names[last]!));
  unlinkSync(join(dir, names[last - 1]!));
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), missing(dir, last - 1));
});

test('after a snapshot and compaction, deleting the newest segment is still refused', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  const fs = new RealFs();
  const { wal } = Wal.open(fs, dir, OPTS);
  for (let i = 1; i <= 60; i++) wal.append([ent(i, 2, `value-${i}-`.repeat(4))], hs(i));
  wal.saveSnapshot(snapshotMeta(50), new Uint8Array(16));
  assert.ok(wal.compact(50) > 0, 'old segments deleted');
  for (let i = 61; i <= 64; i++) wal.append([ent(i, 2)], hs(i));
  wal.close();
  const names = wal.segmentNames();
  assert.ok(names.length >= 2, names.join());
  const lastSeq = parseInt(names.at(-1)!.slice(0, 16), 16);
  unlinkSync(join(dir, names.at(-1)!));
  assert.throws(() => Wal.open(fs, dir, OPTS), missing(dir, lastSeq));
});

/**
 * What a crash between creating segment N+1 and sealing N leaves: N+1 with only its header records
 * (nothing goes into it before N's seal is durable), N without its seal — or with a part of it.
 */
function crashedAtRotation(dir: string, sealBytes: (seal: Uint8Array) => Uint8Array | null): number {
  const names = written(dir, 60);
  const lastPath = join(dir, names.at(-1)!);
  const prevPath = join(dir, names.at(-2)!);
  // N+1: its header only (segment start, hard state), the rest of its size zeros as created.
  const header = framesOf(lastPath).filter((f) => f.type !== rec.RecordType.Entry && f.type !== rec.RecordType.Seal);
  const headerEnd = header.at(-1)!.end;
  const keep = readFileSync(lastPath).subarray(0, headerEnd);
  const ofN1 = new Uint8Array(OPTS.segmentSizeBytes);
  ofN1.set(keep);
  writeFileSync(lastPath, ofN1);
  // N: its seal zeroed (the unused space it was written into), or a part of it written.
  const n = readFileSync(prevPath);
  const sealAt = framesOf(prevPath).at(-1)!.offset;
  const part = sealBytes(Uint8Array.from(n.subarray(sealAt, sealAt + SEAL_FRAME_BYTES))); // a copy (Buffer.slice is a view)
  n.fill(0, sealAt, sealAt + SEAL_FRAME_BYTES);
  if (part !== null) n.set(part, sealAt);
  writeFileSync(prevPath, n);
  return framesOf(prevPath).filter((f) => f.type === rec.RecordType.Entry).length;
}

for (const [what, sealBytes] of [
  ['no seal written', (): null => null],
  ['a torn seal (its first bytes)', (s: Uint8Array) => s.subarray(0, 9)],
  ['a torn seal (a later sector of it only)', (s: Uint8Array) => Uint8Array.from(s, (b, i) => (i < 11 ? 0 : b))],
] as const) {
  test(`a crash between creating the next segment and the seal (${what}) opens, and open seals it`, (t) => {
    const dir = tempDir(t, 'leasekv-seal-');
    crashedAtRotation(dir, sealBytes);
    const names = readdirSync(dir);
    const { state, wal, repaired } = Wal.open(new RealFs(), dir, OPTS);
    assert.equal(repaired, null);
    const lastIndex = state.entries.at(-1)!.index;
    assert.deepEqual(
      state.entries.map((e) => e.index),
      Array.from({ length: lastIndex }, (_, i) => i + 1),
    );
    assert.deepEqual(state.hardState, hs(lastIndex), 'the hard state the new segment re-recorded');
    wal.append([ent(lastIndex + 1, 4)], { term: 4, votedFor: 'n1', commit: lastIndex });
    wal.close();
    // Sealed again at open: deleting the newest segment now is refused too.
    assert.equal(framesOf(join(dir, names.at(-2)!)).at(-1)!.type, rec.RecordType.Seal);
    unlinkSync(join(dir, names.at(-1)!));
    assert.throws(() => Wal.open(new RealFs(), dir, OPTS), missing(dir, names.length - 1));
  });
}

test('not taken for a torn seal: other bytes after the last record of a segment that is not the last', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  crashedAtRotation(dir, (s) => Uint8Array.from(s, (b, i) => (i === 15 ? b ^ 1 : b)));
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), StorageCorruptError);
});

test('a seal that names another segment, or a record after a seal, is refused', () => {
  for (const damage of ['wrong next', 'record after']) {
    const fs = new FaultyFs({ seed: 21 });
    const { wal } = Wal.open(fs, '/d', OPTS);
    for (let i = 1; i <= 40; i++) wal.append([ent(i, 1)], null);
    wal.close();
    const path = `/d/${segmentName(0)}`;
    const sealAt = scanFrames(fs.readFile(path)).frames.at(-1)!.offset;
    const fd = fs.open(path, { create: false });
    if (damage === 'wrong next') fs.writeAt(fd, sealAt, sealFrame(1));
    else fs.writeAt(fd, sealAt + SEAL_FRAME_BYTES, encodeFrame(rec.RecordType.HardState, rec.encodeHardState(hs(1))));
    fs.close(fd);
    assert.throws(
      () => Wal.open(fs, '/d', OPTS),
      (e: unknown) => e instanceof StorageCorruptError && !(e instanceof WalSegmentMissingError),
      damage,
    );
  }
});

test('a crash at every mutating call of a rotation: opens with every acknowledged entry, all but the last sealed', () => {
  const fill = (wal: Wal): number => {
    let i = 1;
    while (wal.segmentNames().length < 2) wal.append([ent(i, 1, 'x'.repeat(40))], hs(i++));
    wal.sync();
    return i - 1;
  };
  for (let k = 0; ; k++) {
    const fs = new FaultyFs({ seed: 30 + k, tornWriteProbability: 0.9 });
    const { wal } = Wal.open(fs, '/d', OPTS);
    const acked = fill(wal);
    // Entries up to the next rotation, then one that rotates; a crash at the k-th call from there.
    const batch: Entry[] = [];
    for (let i = acked + 1; batch.length < 30; i++) batch.push(ent(i, 1, 'y'.repeat(40)));
    fs.crashAfter(k);
    let crashed = false;
    try {
      for (const e of batch) wal.append([e], null);
      wal.sync();
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      crashed = true;
    }
    fs.crashAfter(-1);
    if (!crashed) {
      assert.ok(k > 8, `${k} calls: the batch rotated at least once`);
      return;
    }
    fs.crash();
    const opened = Wal.open(fs, '/d', OPTS);
    assert.ok(opened.state.entries.length >= acked, `crash at call ${k}: acknowledged entries kept`);
    const segs = fs.list('/d').filter((f) => f.endsWith('.wal'));
    for (const f of segs.slice(0, -1))
      assert.equal(scanFrames(fs.readFile(`/d/${f}`)).frames.at(-1)!.type, rec.RecordType.Seal, `${k}: ${f}`);
    opened.wal.close();
  }
});

/** A segment as written before session 11 (a session-10 one: created whole, no seal) or before session 10. */
function unsealedSegment(seq: number, entries: Entry[], lastBefore: number, sizeBytes: number | null): Uint8Array {
  const start = { seq, lastIndexBefore: lastBefore, lastTermBefore: lastBefore === 0 ? 0 : 1 };
  const frames = [
    encodeFrame(rec.RecordType.SegmentStart, rec.encodeSegmentStart({ ...start, reservedBytes: sizeBytes ?? 0 })),
    ...entries.map((e) => encodeFrame(rec.RecordType.Entry, rec.encodeEntry(e))),
    encodeFrame(rec.RecordType.HardState, rec.encodeHardState(hs(entries.at(-1)!.index))),
  ];
  const used = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(sizeBytes ?? used);
  let at = 0;
  for (const f of frames) out.set(f, (at += f.length) - f.length);
  return out;
}

for (const format of ['before session 10 (grown by appends)', 'session 10 (created whole, no seals)'] as const) {
  test(`a folder from ${format} opens, is sealed at open, and then refuses a deleted newest segment`, (t) => {
    const dir = tempDir(t, 'leasekv-seal-');
    const es = Array.from({ length: 9 }, (_, i) => ent(i + 1, 1));
    const whole = format.startsWith('session 10');
    const seg0 = unsealedSegment(0, es.slice(0, 3), 0, whole ? 600 : null);
    // A session-10 segment filled to within a few bytes of its size: its seal goes past it.
    const used1 = unsealedSegment(1, es.slice(3, 6), 3, null).length + 8; // + its start's reservedBytes
    const seg1 = unsealedSegment(1, es.slice(3, 6), 3, whole ? used1 + 5 : null);
    const seg2 = unsealedSegment(2, es.slice(6), 6, whole ? 1024 : null);
    [seg0, seg1, seg2].forEach((b, seq) => writeFileSync(join(dir, segmentName(seq)), b));
    const { state, wal } = Wal.open(new RealFs(), dir, OPTS);
    assert.deepEqual(
      state.entries.map((e) => e.index),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    wal.append([ent(10, 2)], { term: 2, votedFor: null, commit: 10 });
    wal.close();
    const names = readdirSync(dir).filter((f) => f.endsWith('.wal'));
    assert.equal(names.length, whole ? 3 : 4, whole ? 'writes go on in the last one' : 'a new segment created whole');
    for (const f of names.slice(0, -1)) assert.equal(framesOf(join(dir, f)).at(-1)!.type, rec.RecordType.Seal, f);
    if (whole) assert.equal(statSync(join(dir, segmentName(1))).size, used1 + SEAL_FRAME_BYTES, 'seal past its size');
    const again = Wal.open(new RealFs(), dir, OPTS);
    assert.equal(again.state.entries.length, 10);
    again.wal.close();
    // Deleting the newest two: refused (the older segments were sealed at the first open).
    unlinkSync(join(dir, names.at(-1)!));
    unlinkSync(join(dir, names.at(-2)!));
    assert.throws(() => Wal.open(new RealFs(), dir, OPTS), missing(dir, names.length - 2));
  });
}

test('a cut still reads as a cut, not a missing segment (the seal is cut away with the records)', (t) => {
  const dir = tempDir(t, 'leasekv-seal-');
  const names = written(dir, 60);
  truncateSync(join(dir, names.at(-2)!), 700);
  assert.throws(() => Wal.open(new RealFs(), dir, OPTS), WalCutError);
});
