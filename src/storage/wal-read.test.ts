// Issue 16: entries read back from the WAL by index (the core keeps only a window of the log in
// memory; a leader reads older entries for a lagging follower) — across rotation, truncation,
// compaction, reopening, and a damaged record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import { FaultyFs } from './faulty_fs.ts';
import { Wal } from './wal.ts';
import { dataEnd, ent } from './test-util.ts';

const DIR = '/data/n1';
const show = (es: readonly Entry[] | null): string =>
  es === null ? 'null' : es.map((e) => `${e.index}/${e.term}:${new TextDecoder().decode(e.data)}`).join(' ');

test('reads by index across segment rotations, after a truncation, before and after reopening', () => {
  const fs = new FaultyFs({ seed: 11 });
  const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  for (let i = 1; i <= 100; i++) wal.append([ent(i, 1)], { term: 1, votedFor: 'n1', commit: i - 1 });
  // Entries 60.. rewritten in term 2 (the old ones stay in earlier records and segments).
  wal.append([ent(60, 2, 'new60'), ent(61, 2, 'new61')], null);
  assert.ok(wal.segmentNames().length > 5);
  // Not yet synced: still readable (the buffer goes to the file first).
  assert.equal(show(wal.readEntries(58, 70, 1 << 20)), '58/1:cmd58 59/1:cmd59 60/2:new60 61/2:new61');
  wal.sync();
  const all = wal.readEntries(1, 61, 1 << 20);
  assert.equal(all?.length, 61);
  all?.forEach((e, i) => assert.equal(e.index, i + 1));
  assert.equal(show(wal.readEntries(10, 12, 1)), '10/1:cmd10', 'maxBytes: at least one entry');
  assert.equal(show(wal.readEntries(10, 12, 10)), '10/1:cmd10 11/1:cmd11');
  assert.equal(wal.readEntries(62, 70, 100), null, 'past the end');
  wal.close();
  const { wal: w2 } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  assert.equal(show(w2.readEntries(59, 61, 1 << 20)), '59/1:cmd59 60/2:new60 61/2:new61', 'locations recovered');
  w2.append([ent(62, 2)], null);
  assert.equal(show(w2.readEntries(61, 62, 1 << 20)), '61/2:new61 62/2:cmd62');
});

test('after a snapshot and compaction deletes segments: what remains reads, what went is null', () => {
  const fs = new FaultyFs({ seed: 12 });
  const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  for (let i = 1; i <= 120; i++) wal.append([ent(i, 3)], { term: 3, votedFor: 'n1', commit: i });
  wal.saveSnapshot({ index: 80, term: 3, confState: { voters: ['n1'], learners: [] } }, new Uint8Array([1]));
  assert.ok(wal.compact(80) > 0);
  assert.equal(wal.readEntries(80, 90, 1 << 20), null, 'compacted: gone');
  assert.equal(show(wal.readEntries(81, 82, 1 << 20)), '81/3:cmd81 82/3:cmd82');
  const { wal: w2 } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  assert.equal(w2.readEntries(120, 120, 10)?.[0]?.index, 120);
  assert.equal(w2.readEntries(79, 81, 10), null);
});

test('a large entry (bigger than a read chunk) reads whole; a damaged record throws', () => {
  const fs = new FaultyFs({ seed: 13 });
  const { wal } = Wal.open(fs, DIR);
  const big = { index: 1, term: 1, type: 0 as const, data: new Uint8Array(600 * 1024).fill(7) };
  wal.append([big, ent(2, 1)], null);
  wal.sync();
  const got = wal.readEntries(1, 2, 1 << 30);
  assert.equal(got?.length, 2);
  assert.equal(got?.[0]?.data.length, 600 * 1024);
  assert.equal(got?.[0]?.data[12345], 7);
  // Flip a bit inside entry 2's record: the read refuses rather than sending damaged data.
  const seg = `${DIR}/${wal.segmentNames()[0]}`;
  fs.flipBit(seg, (dataEnd(fs, seg) - 3) * 8);
  assert.throws(() => wal.readEntries(2, 2, 10), StorageCorruptError);
});
