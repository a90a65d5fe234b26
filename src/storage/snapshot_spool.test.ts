import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSnapshot } from './snapshot_file.ts';
import {
  FileSpool,
  removeSpoolLeftovers,
  SnapshotSpoolDir,
  SnapshotSpoolError,
  type SpooledSnapshotFile,
} from './snapshot_spool.ts';
import { patternBytes, snapshotMeta, tempDir } from './test-util.ts';

function appendAll(spool: FileSpool, chunks: readonly Uint8Array[]): Promise<(Error | null)[]> {
  return Promise.all(chunks.map((c) => new Promise<Error | null>((r) => spool.append(c, r))));
}

function readAll(spool: FileSpool): Promise<{ err: Error | null; data: Uint8Array | null }> {
  return new Promise((r) => spool.readAll((err, data) => r({ err, data })));
}

function discarded(spool: FileSpool): Promise<void> {
  // discard() removes the file after the writes queued before it; a read queued after reports it.
  spool.discard();
  return readAll(spool).then(() => undefined);
}

test('chunks appended to the spool read back as the same bytes, and the file is gone after', async (t) => {
  const dir = tempDir(t, 'spool-');
  const data = patternBytes(3 * 1024 * 1024 + 17, 5);
  const spool = new SnapshotSpoolDir(dir).open(data.length);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += 256 * 1024) chunks.push(data.subarray(at, at + 256 * 1024));
  // Appended back to back without waiting (as chunks arrive): written in order.
  assert.deepEqual(
    await appendAll(spool, chunks),
    chunks.map(() => null),
  );
  assert.deepEqual(readdirSync(dir), ['snapshot.incoming.1.tmp'], 'the bytes wait on disk, not in memory');
  const { err, data: back } = await readAll(spool);
  assert.equal(err, null);
  assert.ok(Buffer.from(back ?? []).equals(Buffer.from(data)));
  assert.deepEqual(readdirSync(dir), []);
});

test('a discarded spool (replaced, refused, aborted transfer) removes its file; later appends fail', async (t) => {
  const dir = tempDir(t, 'spool-');
  const spools = new SnapshotSpoolDir(dir);
  const a = spools.open(1 << 20);
  await appendAll(a, [patternBytes(512 * 1024, 1)]);
  const b = spools.open(1 << 20); // a second transfer never reuses the first's file
  await appendAll(b, [patternBytes(1000, 2)]);
  assert.deepEqual(readdirSync(dir).sort(), ['snapshot.incoming.1.tmp', 'snapshot.incoming.2.tmp']);
  await discarded(a);
  assert.deepEqual(readdirSync(dir), ['snapshot.incoming.2.tmp']);
  const [late] = await appendAll(a, [patternBytes(10, 3)]);
  assert.ok(late instanceof SnapshotSpoolError);
  await discarded(b);
  assert.deepEqual(readdirSync(dir), []);
});

test('an I/O error is a SnapshotSpoolError for that transfer, reported to every later call', async (t) => {
  const dir = join(tempDir(t, 'spool-'), 'gone'); // the file cannot be created
  const spool = new SnapshotSpoolDir(dir).open(100);
  const [first, second] = await appendAll(spool, [patternBytes(10, 1), patternBytes(10, 2)]);
  assert.ok(first instanceof SnapshotSpoolError);
  assert.match(first.message, /ENOENT/);
  assert.equal(second, first);
  const { err, data } = await readAll(spool);
  assert.equal(err, first);
  assert.equal(data, null);
});

test('spool files left by a crash are removed at start; nothing else is touched', (t) => {
  const dir = tempDir(t, 'spool-');
  for (const n of ['snapshot.incoming.1.tmp', 'snapshot.incoming.17.tmp', 'snapshot.snap', 'identity', 'x.tmp'])
    writeFileSync(join(dir, n), 'x');
  assert.deepEqual(removeSpoolLeftovers(dir).sort(), ['snapshot.incoming.1.tmp', 'snapshot.incoming.17.tmp']);
  assert.deepEqual(readdirSync(dir).sort(), ['identity', 'snapshot.snap', 'x.tmp']);
  assert.deepEqual(removeSpoolLeftovers(join(dir, 'missing')), []);
});

test('with the snapshot meta, the spool is a whole snapshot file, handed over as it is (issue 16)', async (t) => {
  const dir = tempDir(t, 'spool-');
  const data = patternBytes(2 * 1024 * 1024 + 5, 7);
  const spool = new SnapshotSpoolDir(dir).open(data.length, snapshotMeta(12));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += 300_000) chunks.push(data.subarray(at, at + 300_000));
  await appendAll(spool, chunks);
  const { err, data: got } = await new Promise<{ err: Error | null; data: unknown }>((r) =>
    spool.complete((e, d) => r({ err: e, data: d })),
  );
  assert.equal(err, null);
  const file = got as SpooledSnapshotFile;
  assert.ok(!(got instanceof Uint8Array), 'the file, not its bytes');
  assert.equal(file.totalBytes, data.length);
  // The file is exactly what the node's snapshot file would be: it is renamed into place as it is.
  const snap = decodeSnapshot(file.path, readFileSync(file.path));
  assert.deepEqual(snap.meta, snapshotMeta(12));
  assert.ok(Buffer.from(snap.data).equals(Buffer.from(data)));
  const piece = await new Promise<Uint8Array | null>((r) => file.read(1_000_000, 4096, (_e, d) => r(d)));
  assert.ok(Buffer.from(piece ?? []).equals(Buffer.from(data.subarray(1_000_000, 1_004_096))));
  // Renamed away (installed): releasing it closes it and leaves the renamed file alone.
  renameSync(file.path, join(dir, 'snapshot.snap'));
  file.release();
  file.release();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(readdirSync(dir), ['snapshot.snap']);
  // Not installed: releasing it removes it.
  const other = new SnapshotSpoolDir(join(dir)).open(10, snapshotMeta(13));
  await appendAll(other, [patternBytes(10, 1)]);
  const f2 = await new Promise<SpooledSnapshotFile>((r) => other.complete((_e, d) => r(d as SpooledSnapshotFile)));
  f2.release();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(readdirSync(dir), ['snapshot.snap']);
});
