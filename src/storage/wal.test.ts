// Behaviour of the WAL over the in-memory FaultyFs: replay, truncation, rotation, snapshots,
// compaction, and the recovery rules (torn tail repaired; damage elsewhere refuses to start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import { FaultyFs, SimulatedCrash } from './faulty_fs.ts';
import { SNAPSHOT_FILE, SNAPSHOT_SAVE_TEMP_FILE, SNAPSHOT_TEMP_FILE, writeSnapshotTempFile } from './snapshot_file.ts';
import { Wal } from './wal.ts';
import { dataEnd, ent, writeTornRecord } from './test-util.ts';

const DIR = '/data/n1';
const range = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));
const idx = (es: readonly Entry[]): string => es.map((e) => `${e.index}/${e.term}`).join(' ');

test('fresh folder opens empty; entries and hard state replay after reopen', () => {
  const fs = new FaultyFs({ seed: 1 });
  const { wal, state, repaired } = Wal.open(fs, DIR);
  assert.deepEqual(state, {
    hardState: { term: 0, votedFor: null, commit: 0 },
    snapshot: null,
    entries: [],
    snapshotFile: null,
  });
  assert.equal(repaired, null);
  wal.append(range(1, 3, 1), { term: 1, votedFor: 'n2', commit: 2 });
  wal.sync();
  wal.close();
  const again = Wal.open(fs, DIR);
  assert.equal(idx(again.state.entries), '1/1 2/1 3/1');
  assert.deepEqual(again.state.entries[1]!.data, new TextEncoder().encode('cmd2'));
  assert.deepEqual(again.state.hardState, { term: 1, votedFor: 'n2', commit: 2 });
});

test('an append at an existing index replaces it and everything after', () => {
  const fs = new FaultyFs({ seed: 2 });
  const { wal } = Wal.open(fs, DIR);
  wal.append(range(1, 5, 1), null);
  wal.append([ent(3, 2), ent(4, 2)], { term: 2, votedFor: null, commit: 2 });
  wal.sync();
  assert.equal(wal.lastIndex(), 4);
  assert.equal(idx(Wal.open(fs, DIR).state.entries), '1/1 2/1 3/2 4/2');
  assert.throws(() => wal.append([ent(9, 2)], null), /outside/);
});

test('segments rotate at the size limit and replay across segments', () => {
  const fs = new FaultyFs({ seed: 3 });
  const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  for (let i = 1; i <= 100; i++)
    wal.append([ent(i, 1 + Math.floor(i / 40))], { term: 1 + Math.floor(i / 40), votedFor: 'n1', commit: i - 1 });
  wal.append([ent(50, 9)], { term: 9, votedFor: null, commit: 49 }); // truncation across segments
  wal.sync();
  assert.ok(wal.segmentNames().length > 5, `${wal.segmentNames().length} segments`);
  const { state } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  assert.equal(state.entries.length, 50);
  assert.equal(idx(state.entries.slice(-2)), '49/2 50/9');
  assert.deepEqual(state.hardState, { term: 9, votedFor: null, commit: 49 });
});

test('snapshot, compaction past it, and replay from the first remaining segment', () => {
  const fs = new FaultyFs({ seed: 4 });
  const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  for (let i = 1; i <= 120; i++) wal.append([ent(i, 3)], { term: 3, votedFor: 'n1', commit: i });
  wal.sync();
  const before = wal.segmentNames().length;
  wal.saveSnapshot(
    { index: 80, term: 3, confState: { voters: ['n1', 'n2', 'n3'], learners: [], removed: [] } },
    new Uint8Array([1, 2, 3]),
  );
  const deleted = wal.compact(80);
  assert.ok(deleted > 0 && wal.segmentNames().length === before - deleted);
  assert.ok(!wal.segmentNames().includes('0000000000000000.wal'));
  assert.throws(() => wal.compact(81), /past the snapshot/);
  const { state, wal: w2 } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
  assert.deepEqual(state.snapshot, {
    index: 80,
    term: 3,
    confState: { voters: ['n1', 'n2', 'n3'], learners: [], removed: [] },
  });
  assert.equal(state.entries[0]!.index, 81);
  assert.equal(state.entries.length, 40);
  assert.deepEqual(state.hardState, { term: 3, votedFor: 'n1', commit: 120 });
  assert.deepEqual(w2.loadSnapshot()?.data, new Uint8Array([1, 2, 3]));
});

test('a snapshot whose (index, term) is not in the log discards the log (install from leader)', () => {
  const fs = new FaultyFs({ seed: 5 });
  const { wal } = Wal.open(fs, DIR);
  wal.append(range(1, 10, 1), null);
  wal.saveSnapshot(
    { index: 20, term: 4, confState: { voters: ['n1'], learners: [], removed: [] } },
    new Uint8Array([9]),
  );
  wal.append([ent(21, 4)], { term: 4, votedFor: null, commit: 21 });
  wal.sync();
  const { state } = Wal.open(fs, DIR);
  assert.equal(idx(state.entries), '21/4');
  assert.equal(state.snapshot?.index, 20);
});

test('torn tail of the last segment is zeroed and reported; the log continues after it', () => {
  const fs = new FaultyFs({ seed: 6 });
  const { wal } = Wal.open(fs, DIR);
  wal.append(range(1, 3, 1), null);
  wal.sync();
  const path = `${DIR}/0000000000000000.wal`;
  const goodSize = dataEnd(fs, path);
  wal.append([ent(4, 1, 'x'.repeat(1000))], null);
  wal.sync();
  // A torn write: the record's first sector reached the disk, the rest did not (zeros, as created).
  const fd = fs.open(path, { create: false });
  fs.writeAt(fd, goodSize, new Uint8Array(1100));
  const torn = writeTornRecord((at, b) => fs.writeAt(fd, at, b), goodSize);
  fs.close(fd);
  const { wal: w2, state, repaired } = Wal.open(fs, DIR);
  assert.deepEqual(repaired, { file: path, offset: goodSize, bytesDropped: torn });
  assert.equal(idx(state.entries), '1/1 2/1 3/1');
  w2.append([ent(4, 2)], null);
  w2.sync();
  assert.equal(idx(Wal.open(fs, DIR).state.entries), '1/1 2/1 3/1 4/2');
});

test('a flipped bit outside the tail, a missing segment, or a corrupt snapshot refuses to start', () => {
  const build = (): FaultyFs => {
    const fs = new FaultyFs({ seed: 7 });
    const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
    for (let i = 1; i <= 150; i++) wal.append([ent(i, 1)], null);
    wal.saveSnapshot(
      { index: 5, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
      new Uint8Array(100),
    );
    wal.sync();
    return fs;
  };
  const expectCorrupt = (fs: FaultyFs, file: RegExp): void => {
    assert.throws(
      () => Wal.open(fs, DIR, { segmentSizeBytes: 1024 }),
      (e: unknown) => e instanceof StorageCorruptError && file.test(e.file) && /replace this member/.test(e.message),
    );
  };
  const a = build();
  a.flipBit(`${DIR}/0000000000000001.wal`, 8 * 40 + 3);
  expectCorrupt(a, /0000000000000001\.wal$/);
  const b = build();
  b.flipBit(`${DIR}/0000000000000000.wal`, 8 * 20); // last record of a non-last segment: still corrupt
  expectCorrupt(b, /0000000000000000\.wal$/);
  const c = build();
  c.unlink(`${DIR}/0000000000000001.wal`);
  expectCorrupt(c, /0000000000000002\.wal$/);
  const e = build(); // a torn record is only acceptable at the end of the LAST segment
  e.truncate(`${DIR}/0000000000000000.wal`, e.size(`${DIR}/0000000000000000.wal`) - 4);
  expectCorrupt(e, /0000000000000000\.wal$/);
  const d = build();
  d.flipBit(`${DIR}/${SNAPSHOT_FILE}`, 8 * 30);
  expectCorrupt(d, /snapshot\.snap$/);
});

test('crash between snapshot temp write and rename leaves the old snapshot valid', () => {
  const fs = new FaultyFs({ seed: 8 });
  const { wal } = Wal.open(fs, DIR);
  wal.append(range(1, 10, 1), null);
  wal.saveSnapshot(
    { index: 4, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
    new Uint8Array([4]),
  );
  // Interrupt the next snapshot after its temp file is written and fsynced, before the rename.
  const realRename = fs.rename.bind(fs);
  fs.rename = () => {
    throw new Error('power lost');
  };
  assert.throws(
    () =>
      wal.saveSnapshot(
        { index: 8, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
        new Uint8Array([8]),
      ),
    /power lost/,
  );
  fs.rename = realRename;
  fs.crash();
  const { wal: w2, state } = Wal.open(fs, DIR);
  assert.equal(state.snapshot?.index, 4);
  assert.deepEqual(w2.loadSnapshot()?.data, new Uint8Array([4]));
  assert.equal(
    idx(state.entries),
    range(5, 10, 1)
      .map((e) => `${e.index}/1`)
      .join(' '),
  );
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_TEMP_FILE}`));
});

test('own snapshot written beside the WAL: a crash at every step of the write, the appends between and the adopt recovers old or new, acked entries kept', () => {
  const conf = { voters: ['n1'], learners: [], removed: [] };
  const recovered = new Set<string>();
  let k = 0;
  for (; k < 100; k++) {
    const fs = new FaultyFs({ seed: 20 + k, tornWriteProbability: 0.9 });
    const { wal } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
    wal.append(range(1, 10, 1), null);
    wal.saveSnapshot({ index: 4, term: 1, confState: conf }, new Uint8Array([4]));
    let acked = 10;
    let adopted = false;
    fs.crashAfter(k); // the k-th mutating call from here on loses power
    try {
      // The side write (snapshot_save.ts writes the same bytes asynchronously), appends meanwhile,
      // then the ordered step.
      writeSnapshotTempFile(
        fs,
        `${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`,
        { index: 8, term: 1, confState: conf },
        new Uint8Array([8]),
      );
      for (const i of [11, 12, 13]) {
        wal.append([ent(i, 1, 'x'.repeat(200))], { term: 1, votedFor: 'n1', commit: i - 1 });
        wal.sync();
        acked = i;
      }
      assert.equal(wal.adoptSnapshotFile({ index: 8, term: 1, confState: conf }), true);
      adopted = true;
      wal.append([ent(14, 1)], null);
      wal.sync();
      acked = 14;
      fs.crashAfter(-1);
      break; // k is past the last mutating call: every boundary was tried
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
    }
    fs.crash();
    const { wal: w2, state } = Wal.open(fs, DIR, { segmentSizeBytes: 1024 });
    const snap = state.snapshot?.index;
    assert.ok(snap === 4 || snap === 8, `k=${k}: snapshot ${snap}`);
    if (adopted) assert.equal(snap, 8, `k=${k}: the adopted snapshot was lost`);
    assert.deepEqual([...w2.loadSnapshot()!.data], [snap], `k=${k}: file and marker disagree`);
    const last = state.entries.at(-1)?.index ?? snap!;
    assert.ok(last >= acked, `k=${k}: acked ${acked}, recovered up to ${last}`);
    assert.equal(state.entries[0]?.index, snap! + 1);
    assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`));
    recovered.add(`${snap}`);
    w2.close();
  }
  assert.ok(k > 10 && k < 100, `tried ${k} crash points`);
  assert.deepEqual([...recovered].sort(), ['4', '8'], 'crashes landed both before and after the rename');
});

test('a snapshot renamed into place but whose marker was lost still governs the log', () => {
  const fs = new FaultyFs({ seed: 9, tornWriteProbability: 0 });
  const { wal } = Wal.open(fs, DIR);
  wal.append(range(1, 10, 1), null);
  wal.sync();
  wal.saveSnapshot(
    { index: 6, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
    new Uint8Array([6]),
  );
  // Simulate losing the marker: crash right after the rename+dir fsync, before the WAL sync.
  const fs2 = new FaultyFs({ seed: 9, tornWriteProbability: 0 });
  const { wal: v } = Wal.open(fs2, DIR);
  v.append(range(1, 10, 1), null);
  v.sync();
  const realSync = fs2.fsync.bind(fs2);
  let calls = 0;
  fs2.fsync = (fd) => {
    calls++;
    if (calls === 1)
      realSync(fd); // the snapshot temp file
    else throw new Error('power lost');
  };
  assert.throws(
    () =>
      v.saveSnapshot(
        { index: 6, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
        new Uint8Array([6]),
      ),
    /power lost/,
  );
  fs2.fsync = realSync;
  fs2.crash();
  assert.deepEqual(Wal.open(fs2, DIR).state, Wal.open(fs, DIR).state);
});

test('recovery checks the snapshot file in slices, never whole, and says where its data is (issue 16)', () => {
  const fs = new FaultyFs({ seed: 9 });
  const first = Wal.open(fs, DIR).wal;
  first.append(range(1, 6, 1), null);
  const data = new Uint8Array(9 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 0xff);
  first.saveSnapshot({ index: 4, term: 1, confState: { voters: ['n1'], learners: [] } }, data);
  first.close();
  let wholeReads = 0;
  let largestRead = 0;
  const readFile = fs.readFile.bind(fs);
  fs.readFile = (path: string): Uint8Array => {
    if (path.endsWith(SNAPSHOT_FILE)) wholeReads++;
    return readFile(path);
  };
  const read = fs.read.bind(fs);
  fs.read = (fd, offset, length, into) => {
    largestRead = Math.max(largestRead, length);
    return read(fd, offset, length, into);
  };
  const { wal, state } = Wal.open(fs, DIR);
  assert.equal(wholeReads, 0, 'recovery does not read the snapshot file whole');
  assert.ok(largestRead <= 4 * 1024 * 1024, `a read of ${largestRead} bytes`);
  const file = state.snapshotFile!;
  assert.deepEqual(file.meta, state.snapshot);
  assert.equal(file.dataBytes, data.length);
  assert.equal(file.fileBytes, fs.size(`${DIR}/${SNAPSHOT_FILE}`));
  const fd = fs.open(`${DIR}/${SNAPSHOT_FILE}`, { create: false });
  assert.deepEqual(fs.read(fd, file.dataOffset, file.dataBytes), data);
  fs.close(fd);
  // A load still reads and checks it whole (the simulator's path).
  assert.deepEqual(wal.loadSnapshot()!.data, data);
  wal.saveSnapshot({ index: 6, term: 1, confState: { voters: ['n1'], learners: [] } }, new Uint8Array([7]));
  const loaded = wal.loadSnapshot()!;
  assert.equal(loaded.meta.index, 6);
  assert.deepEqual([...loaded.data], [7]);
  assert.equal(Wal.open(fs, DIR).state.snapshotFile?.dataBytes, 1);
});
