// Group commit: concurrent persists share fsyncs, resolve in order, and are durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import { FaultyFs } from './faulty_fs.ts';
import { RealFs } from './fs.ts';
import { Persister, type SyncInfo } from './persister.ts';
import { Wal } from './wal.ts';

const N = 200;
const ent = (index: number): Entry => ({ index, term: 1, type: 0, data: new TextEncoder().encode(`v${index}`) });

async function persistConcurrently(p: Persister): Promise<number[]> {
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: N }, (_, k) =>
      p
        .persist({ entries: [ent(k + 1)], hardState: { term: 1, votedFor: 'n1', commit: k } })
        .then(() => order.push(k + 1)),
    ),
  );
  return order;
}

test('worker thread, real files: concurrent persists share fsyncs, resolve in order, are durable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const syncs: SyncInfo[] = [];
  const { persister, state, repaired } = await Persister.open(dir, { onSync: (i) => syncs.push(i) });
  assert.deepEqual(state.entries, []);
  assert.equal(repaired, null);
  const order = await persistConcurrently(persister);
  assert.deepEqual(
    order,
    Array.from({ length: N }, (_, k) => k + 1),
  );
  assert.ok(persister.stats.fsyncs < persister.stats.persists / 4, JSON.stringify(persister.stats));
  assert.equal(
    syncs.reduce((n, s) => n + s.requests, 0),
    N,
  );
  assert.ok(syncs.every((s) => s.fsyncMs >= 0));
  const snap = {
    meta: { index: 150, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } },
    data: new Uint8Array([7]),
  };
  await persister.persist({ entries: [], hardState: null, snapshot: snap });
  await persister.compact(150);
  assert.deepEqual(await persister.loadSnapshot(), snap);
  await persister.close();
  const { wal, state: after } = Wal.open(new RealFs(), dir);
  wal.close();
  assert.equal(after.entries.length, 50);
  assert.equal(after.entries.at(-1)?.index, N);
  assert.deepEqual(after.hardState, { term: 1, votedFor: 'n1', commit: N - 1 });
});

test('inline over FaultyFs: fsyncs < persists, and everything resolved survives a crash', async () => {
  const fs = new FaultyFs({ seed: 3 });
  const { persister } = await Persister.openInline(fs, '/d');
  const before = fs.fsyncCount;
  await persistConcurrently(persister);
  assert.ok(fs.fsyncCount - before < N / 4, `${fs.fsyncCount - before} fsyncs for ${N} persists`);
  const synced = fs.fsyncCount;
  await persister.persist({ entries: [], hardState: { term: 1, votedFor: 'n1', commit: N }, sync: false });
  assert.equal(fs.fsyncCount, synced, 'sync: false skips the fsync');
  fs.crash();
  const { state } = Wal.open(fs, '/d');
  assert.equal(state.entries.length, N);
  assert.equal(state.hardState.commit, N - 1, 'the unsynced hard state was not durable');
});

test('a corrupt folder makes Persister.open reject with StorageCorruptError from the worker', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { wal } = Wal.open(new RealFs(), dir);
  for (let i = 1; i <= 20; i++) wal.append([ent(i)], null);
  wal.close();
  const seg = join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.wal'))!,
  );
  const b = readFileSync(seg);
  b[60] = b[60]! ^ 1;
  writeFileSync(seg, b);
  await assert.rejects(Persister.open(dir), (e: unknown) => e instanceof StorageCorruptError && e.file === seg);
});

test('a refusal with advice of its own (a deleted newest segment) crosses from the worker whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { wal } = Wal.open(new RealFs(), dir, { segmentSizeBytes: 1024 });
  for (let i = 1; i <= 60; i++) wal.append([ent(i)], null);
  wal.close();
  const newest = join(dir, wal.segmentNames().at(-1)!);
  unlinkSync(newest);
  await assert.rejects(
    Persister.open(dir),
    (e: unknown) =>
      e instanceof StorageCorruptError &&
      e.name === 'WalSegmentMissingError' &&
      e.file === newest &&
      e.message.includes('copy it again whole from its source'),
  );
});

test('worker thread: a large snapshot handed over moves to the worker instead of being copied, and loads back whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { persister } = await Persister.open(dir);
  const bytes = new Uint8Array(3 << 20).map((_, i) => i % 251);
  const expected = Uint8Array.from(bytes);
  const meta = { index: 1, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } };
  await persister.persist({ entries: [], hardState: null, snapshot: { meta, data: bytes }, giveSnapshotBytes: true });
  assert.equal(bytes.byteLength, 0, 'the buffer was transferred (detached here), not copied');
  const loaded = await persister.loadSnapshot();
  assert.deepEqual(loaded?.meta, meta);
  assert.ok(loaded !== null && Buffer.from(loaded.data).equals(Buffer.from(expected)), 'the bytes arrive intact');
  await persister.close();
});
