// Cuts and torn writes (docs/storage.md "Cuts and torn writes"): segments are created whole, so a
// shorter one was cut (refused, WalCutError) while garbage after the last record is a torn write
// (zeroed). Folders written before session 10 (segments that grew by appends) still open: their
// torn tails are truncated as before, and new records go to a segment created whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageCorruptError, WalCutError } from './errors.ts';
import { FaultyFs } from './faulty_fs.ts';
import { encodeFrame, scanFrames } from './frame.ts';
import * as rec from './records.ts';
import { segmentName } from './recovery.ts';
import { SEAL_FRAME_BYTES } from './segment_seal.ts';
import { ent, writeTornRecord } from './test-util.ts';
import { Wal } from './wal.ts';

const DIR = '/data/n1';
const OPTS = { segmentSizeBytes: 1024 };
const seg = (seq: number): string => `${DIR}/${segmentName(seq)}`;
const startOf = (fs: FaultyFs, seq: number): rec.SegmentStart =>
  rec.decodeSegmentStart(scanFrames(fs.readFile(seg(seq))).frames[0]!.payload);

/** A folder as written before session 10: segment 0 holding entries 1..n, grown by appends. */
function legacyFolder(n: number): FaultyFs {
  const fs = new FaultyFs({ seed: 3 });
  fs.mkdirp(DIR);
  const fd = fs.open(seg(0), { create: true });
  const start = { seq: 0, lastIndexBefore: 0, lastTermBefore: 0, reservedBytes: 0 };
  fs.append(fd, encodeFrame(rec.RecordType.SegmentStart, rec.encodeSegmentStart(start)));
  for (let i = 1; i <= n; i++) fs.append(fd, encodeFrame(rec.RecordType.Entry, rec.encodeEntry(ent(i, 1))));
  fs.append(fd, encodeFrame(rec.RecordType.HardState, rec.encodeHardState({ term: 1, votedFor: 'n2', commit: n })));
  fs.fsync(fd);
  fs.fsyncDir(DIR);
  fs.close(fd);
  return fs;
}

test('a segment starts at its full size, its size recorded in its first record; writes stay inside it', () => {
  const fs = new FaultyFs({ seed: 1 });
  const { wal } = Wal.open(fs, DIR, OPTS);
  for (let i = 1; i <= 40; i++) wal.append([ent(i, 1)], { term: 1, votedFor: null, commit: i });
  wal.sync();
  const names = wal.segmentNames();
  assert.ok(names.length > 2, `${names.length} segments`);
  names.forEach((_, seq) => {
    assert.equal(startOf(fs, seq).reservedBytes, 1024);
    assert.equal(fs.size(seg(seq)), 1024, 'never grown past, never shorter');
  });
  assert.deepEqual(fs.list(DIR), names, 'no temporary segment left');
});

test('a record bigger than a segment gets a segment created big enough for it', () => {
  const fs = new FaultyFs({ seed: 2 });
  const { wal } = Wal.open(fs, DIR, OPTS);
  wal.append([ent(1, 1), ent(2, 1, 'y'.repeat(3000)), ent(3, 1)], { term: 1, votedFor: null, commit: 3 });
  wal.close();
  const big = startOf(fs, 1).reservedBytes;
  assert.ok(big > 3000 && fs.size(seg(1)) === big, `reserved ${big}`);
  const { state, wal: w2 } = Wal.open(fs, DIR, OPTS);
  assert.deepEqual(
    state.entries.map((e) => e.data.length),
    [4, 3000, 4],
  );
  w2.close();
  fs.truncate(seg(1), big - 1);
  assert.throws(() => Wal.open(fs, DIR, OPTS), WalCutError);
});

test('a folder from before session 10 opens; its torn tail is truncated; new records go to a whole segment', () => {
  const fs = legacyFolder(5);
  const fd = fs.open(seg(0), { create: false });
  const tornBytes = encodeFrame(rec.RecordType.Entry, rec.encodeEntry(ent(6, 1))).subarray(0, 20);
  fs.append(fd, tornBytes);
  fs.close(fd);
  const legacySize = fs.size(seg(0)) - 20;
  const { wal, state, repaired } = Wal.open(fs, DIR, OPTS);
  assert.deepEqual(repaired, { file: seg(0), offset: legacySize, bytesDropped: 20 });
  assert.equal(state.entries.length, 5);
  assert.deepEqual(state.hardState, { term: 1, votedFor: 'n2', commit: 5 });
  assert.deepEqual(wal.segmentNames(), [segmentName(0), segmentName(1)], 'a segment created whole at open');
  // The old segment is left as it is but for its seal (session 11), appended after its records.
  assert.equal(fs.size(seg(0)), legacySize + SEAL_FRAME_BYTES, 'the old segment gets its seal, nothing else');
  assert.equal(scanFrames(fs.readFile(seg(0))).frames.at(-1)!.type, rec.RecordType.Seal);
  assert.equal(startOf(fs, 1).reservedBytes, 1024);
  wal.append([ent(6, 2)], { term: 2, votedFor: 'n1', commit: 6 });
  wal.close();
  const again = Wal.open(fs, DIR, OPTS);
  assert.equal(again.repaired, null);
  assert.equal(again.state.entries.length, 6);
  assert.deepEqual(again.state.hardState, { term: 2, votedFor: 'n1', commit: 6 });
  again.wal.close();
  // The old segment is no longer the last: cut, its lost entries break the next segment's start.
  const frames = scanFrames(fs.readFile(seg(0))).frames;
  fs.truncate(seg(0), frames.at(-4)!.end); // entry 5, the hard state and the seal
  assert.throws(() => Wal.open(fs, DIR, OPTS), StorageCorruptError);
});

test('before session 10, a last segment without its header (a crash at rotation) is recreated, as before', () => {
  const fs = legacyFolder(3);
  fs.open(seg(1), { create: true });
  fs.fsyncDir(DIR);
  const { wal, state, repaired } = Wal.open(fs, DIR, OPTS);
  assert.equal(repaired, null);
  assert.equal(state.entries.length, 3);
  assert.equal(startOf(fs, 1).reservedBytes, 1024);
  assert.equal(startOf(fs, 1).lastIndexBefore, 3);
  wal.close();
});

test('since session 10 a last segment without a complete first record is a cut (its predecessor says so)', () => {
  const fs = new FaultyFs({ seed: 4 });
  const { wal } = Wal.open(fs, DIR, OPTS);
  for (let i = 1; i <= 40; i++) wal.append([ent(i, 1)], null);
  wal.close();
  const last = wal.segmentNames().length - 1;
  fs.truncate(seg(last), 10);
  assert.throws(
    () => Wal.open(fs, DIR, OPTS),
    (e: unknown) => e instanceof WalCutError && e.expectedBytes === null && e.file === seg(last),
  );
});

test('a segment created by a rotation that crashed before its rename is deleted at open', () => {
  const fs = new FaultyFs({ seed: 5 });
  const { wal } = Wal.open(fs, DIR, OPTS);
  wal.append([ent(1, 1)], null);
  wal.sync();
  const fd = fs.open(`${seg(1)}.tmp`, { create: true });
  fs.append(fd, new Uint8Array(100));
  fs.fsync(fd);
  fs.close(fs.open(`${DIR}/identity.tmp`, { create: true })); // not the WAL's: left alone
  fs.fsyncDir(DIR);
  fs.crash();
  const { wal: w2, state } = Wal.open(fs, DIR, OPTS);
  assert.equal(state.entries.length, 1);
  assert.deepEqual(fs.list(DIR), [segmentName(0), 'identity.tmp']);
  w2.close();
});

test('recovery reads a big segment up to its zeros, and answers as a whole read would', () => {
  const big = { segmentSizeBytes: 4 * 1024 * 1024 };
  const build = (): FaultyFs => {
    const fs = new FaultyFs({ seed: 6 });
    const { wal } = Wal.open(fs, DIR, big);
    wal.append([ent(1, 1)], null);
    // An entry whose value is 200 KiB of zeros: whole zero blocks inside a record, not its end.
    wal.append([{ index: 2, term: 1, type: 0, data: new Uint8Array(200 * 1024) }, ent(3, 1)], null);
    wal.close();
    return fs;
  };
  const fs = build();
  const { state, wal, repaired } = Wal.open(fs, DIR, big);
  assert.equal(repaired, null);
  assert.deepEqual(
    state.entries.map((e) => e.data.length),
    [4, 200 * 1024, 4],
  );
  wal.close();
  // A non-zero byte deep in the unused zeros: damage (refused), as a whole read says.
  const flipped = build();
  flipped.flipBit(seg(0), 3 * 1024 * 1024 * 8);
  assert.throws(() => Wal.open(flipped, DIR, big), StorageCorruptError);
  // A torn write after the last record: zeroed, the entries before it kept.
  const torn = build();
  const end = scanFrames(torn.readFile(seg(0))).frames.at(-1)!.end;
  const fd = torn.open(seg(0), { create: false });
  const dropped = writeTornRecord((at, b) => torn.writeAt(fd, at, b), end);
  torn.close(fd);
  const r = Wal.open(torn, DIR, big);
  assert.deepEqual(r.repaired, { file: seg(0), offset: end, bytesDropped: dropped });
  assert.equal(r.state.entries.length, 3);
});
