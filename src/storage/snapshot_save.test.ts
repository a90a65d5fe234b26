// The node's own snapshot, written beside the WAL and put in place in order (snapshot_save.ts,
// Persister.saveSnapshot, Wal.adoptSnapshotFile; issue 13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../raft/types.ts';
import { FaultyFs } from './faulty_fs.ts';
import { RealFs } from './fs.ts';
import { Persister, PersisterFailedError } from './persister.ts';
import { SNAPSHOT_FILE, SNAPSHOT_SAVE_TEMP_FILE, writeSnapshotFile } from './snapshot_file.ts';
import { realSideFs, sideFsOver, writeSnapshotSide, type SideFs, type SnapshotBody } from './snapshot_save.ts';
import { patternBytes, snapshotMeta, tempDir } from './test-util.ts';
import { Wal } from './wal.ts';

const DIR = '/d';
const ent = (index: number): Entry => ({ index, term: 2, type: 0, data: new TextEncoder().encode(`v${index}`) });

const byteCount = (parts: readonly Uint8Array[]): number => parts.reduce((n, p) => n + p.length, 0);

/** `inner`, except that writes of the snapshot's data wait until `gate` resolves. */
function gated(inner: SideFs, gate: Promise<void>, held: { writes: number }): SideFs {
  return {
    remove: (path) => inner.remove(path),
    async create(path) {
      const f = await inner.create(path);
      return {
        async write(parts) {
          if (byteCount(parts) > 64) {
            held.writes++;
            await gate;
          }
          await f.write(parts);
        },
        sync: () => f.sync(),
        close: () => f.close(),
      };
    },
  };
}

test('the side write makes the same file as writeSnapshotFile, in slices', async (t) => {
  const dir = tempDir(t, 'leasekv-snapsave-');
  const data = patternBytes(1_000_003, 5);
  writeSnapshotFile(new RealFs(), dir, snapshotMeta(9), data);
  const expected = readFileSync(join(dir, SNAPSHOT_FILE));
  await writeSnapshotSide(realSideFs, dir, snapshotMeta(9), data, { sliceBytes: 65_536 });
  assert.ok(readFileSync(join(dir, SNAPSHOT_SAVE_TEMP_FILE)).equals(expected));
});

test('a WAL append and its fsync complete while the snapshot file is still being written (issue 13)', async () => {
  const fs = new FaultyFs({ seed: 7 });
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held = { writes: 0 };
  const { persister } = await Persister.openInline(fs, DIR, { sideFs: gated(sideFsOver(fs), gate, held) });
  for (let i = 1; i <= 10; i++) await persister.persist({ entries: [ent(i)], hardState: null });

  const order: string[] = [];
  // Without the fix the save is a batch like any other and the append below waits behind it: then
  // nothing opens the gate until this fallback, and the save finishes first.
  const fallback = setTimeout(open, 5_000);
  const saving = persister.saveSnapshot({ meta: snapshotMeta(10), data: patternBytes(4096, 1) }).then(() => {
    order.push('snapshot saved');
  });
  const appended = persister.persist({ entries: [ent(11)], hardState: null }).then(() => {
    order.push(`entry durable (snapshot data writes held: ${held.writes})`);
    open();
  });
  await Promise.all([saving, appended]);
  clearTimeout(fallback);
  assert.equal(order[1], 'snapshot saved', order.join('; '));
  assert.match(order[0]!, /^entry durable/);

  // Both durable: a power loss now loses neither.
  await persister.compact(10);
  fs.crash();
  const { wal, state } = Wal.open(fs, DIR);
  wal.close();
  assert.equal(state.snapshot?.index, 10);
  assert.deepEqual(
    state.entries.map((e) => e.index),
    [11],
  );
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`));
});

test('a full disk in the side write fails the save and the persister, removes the partial file, keeps the old snapshot', async () => {
  const fs = new FaultyFs({ seed: 8 });
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const inner = sideFsOver(fs);
  let failWrites = false;
  const full: SideFs = {
    remove: (path) => inner.remove(path),
    async create(path) {
      const f = await inner.create(path);
      return {
        write: (parts) => (failWrites && byteCount(parts) > 64 ? Promise.reject(enospc) : f.write(parts)),
        sync: () => f.sync(),
        close: () => f.close(),
      };
    },
  };
  const { persister } = await Persister.openInline(fs, DIR, { sideFs: full });
  await persister.persist({ entries: [ent(1), ent(2)], hardState: null });
  await persister.saveSnapshot({ meta: snapshotMeta(1), data: patternBytes(1000, 1) });
  failWrites = true;
  await assert.rejects(
    persister.saveSnapshot({ meta: snapshotMeta(2), data: patternBytes(1000, 2) }),
    (e: unknown) => e instanceof PersisterFailedError && /ENOSPC: no space left on device/.test(e.message),
  );
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`), 'the partial file is removed');
  // Nothing more is acknowledged, as after a failed fsync.
  await assert.rejects(persister.persist({ entries: [ent(3)], hardState: null }), PersisterFailedError);
  await persister.close().catch(() => undefined);
  fs.crash();
  const { wal, state } = Wal.open(fs, DIR);
  wal.close();
  assert.equal(state.snapshot?.index, 1);
  assert.equal(wal.loadSnapshot()?.data.length, 1000);
  assert.deepEqual(
    state.entries.map((e) => e.index),
    [2],
  );
});

test('a snapshot installed from the leader while the own one is being written wins; the own file is dropped', async () => {
  const fs = new FaultyFs({ seed: 9 });
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const { persister } = await Persister.openInline(fs, DIR, { sideFs: gated(sideFsOver(fs), gate, { writes: 0 }) });
  for (let i = 1; i <= 5; i++) await persister.persist({ entries: [ent(i)], hardState: null });
  const saving = persister.saveSnapshot({ meta: snapshotMeta(4), data: patternBytes(4096, 4) });
  const installed = { meta: { ...snapshotMeta(20), term: 3 }, data: patternBytes(2048, 20) };
  await persister.persist({ entries: [], hardState: null, snapshot: installed });
  open();
  await saving;
  await persister.compact(4);
  await persister.close();
  fs.crash();
  const { wal, state } = Wal.open(fs, DIR);
  assert.equal(state.snapshot?.index, 20);
  assert.deepEqual(state.entries, []);
  assert.deepEqual(wal.loadSnapshot()?.data, installed.data);
  wal.close();
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`));
});

/** `data` as a body of batches of `batchBytes`, each cut in pieces of `pieceBytes`; counts releases. */
function bodyOf(data: Uint8Array, batchBytes: number, pieceBytes: number): SnapshotBody & { released: number } {
  let at = 0;
  const body = {
    totalBytes: data.length,
    released: 0,
    next(): Uint8Array[] | null {
      if (body.released > 0) throw new Error('read after release');
      if (at >= data.length) return null;
      const end = Math.min(data.length, at + batchBytes);
      const batch: Uint8Array[] = [];
      for (let p = at; p < end; p += pieceBytes) batch.push(data.subarray(p, Math.min(end, p + pieceBytes)));
      at = end;
      return batch;
    },
    release: () => void body.released++,
  };
  return body;
}

test('a snapshot body is written batch by batch, never as one buffer of its size, and released (issue 16)', async (t) => {
  const fs = new FaultyFs({ seed: 10 });
  const inner = sideFsOver(fs);
  let largestWrite = 0;
  const measured: SideFs = {
    remove: (path) => inner.remove(path),
    async create(path) {
      const f = await inner.create(path);
      return {
        write: (parts) => {
          largestWrite = Math.max(largestWrite, byteCount(parts));
          return f.write(parts);
        },
        sync: () => f.sync(),
        close: () => f.close(),
      };
    },
  };
  const { persister } = await Persister.openInline(fs, DIR, { sideFs: measured });
  for (let i = 1; i <= 3; i++) await persister.persist({ entries: [ent(i)], hardState: null });
  const data = patternBytes(5_000_003, 3);
  const body = bodyOf(data, 1 << 20, 16 << 10);
  await persister.saveSnapshot({ meta: snapshotMeta(3), body });
  assert.ok(largestWrite <= 1 << 20, `largest write ${largestWrite} bytes`);
  assert.equal(body.released, 1);
  await persister.close();
  fs.crash();
  const { wal, state } = Wal.open(fs, DIR);
  assert.equal(state.snapshot?.index, 3);
  assert.deepEqual(wal.loadSnapshot()?.data, data);
  wal.close();

  // Over real files (writev, the node's path): the same bytes as writeSnapshotFile.
  const dir = tempDir(t, 'leasekv-snapsave-body-');
  writeSnapshotFile(new RealFs(), dir, snapshotMeta(9), data);
  const expected = readFileSync(join(dir, SNAPSHOT_FILE));
  await writeSnapshotSide(realSideFs, dir, snapshotMeta(9), bodyOf(data, 1 << 20, 4093));
  assert.ok(readFileSync(join(dir, SNAPSHOT_SAVE_TEMP_FILE)).equals(expected));
});

test('a failed body write releases the body and removes the partial file; a short body is refused', async () => {
  const fs = new FaultyFs({ seed: 11 });
  fs.mkdirp(DIR);
  const inner = sideFsOver(fs);
  const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  const failing: SideFs = {
    remove: (path) => inner.remove(path),
    async create(path) {
      const f = await inner.create(path);
      return { write: (p) => (byteCount(p) > 64 ? Promise.reject(eio) : f.write(p)), sync: f.sync, close: f.close };
    },
  };
  const body = bodyOf(patternBytes(100_000, 1), 10_000, 1000);
  await assert.rejects(writeSnapshotSide(failing, DIR, snapshotMeta(1), body), /EIO/);
  assert.equal(body.released, 1);
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`));
  const short = { ...bodyOf(patternBytes(1000, 1), 100, 100), totalBytes: 1001 };
  await assert.rejects(writeSnapshotSide(inner, DIR, snapshotMeta(1), short), /gave 1000 bytes, announced 1001/);
  assert.ok(!fs.exists(`${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`));
});
