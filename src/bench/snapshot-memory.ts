// What a snapshot costs in memory beyond the state (issue 16; docs/benchmarks.md, "Session 7:
// snapshots streamed"). Not a test: one process loads KEYS keys of VALUE_BYTES into the state
// machine and saves its own snapshot through the node's storage (openNodeStorage: the WAL worker
// over real files) the way the host does — `whole`: encoded into one buffer (snapshotAsync), then
// saveSnapshot; `streamed`: saveSnapshotBody from the frozen pages — sampling the process's
// off-heap bytes (ArrayBuffers, all threads' Buffers counted on this one only) and resident memory
// every 2 ms. Prints each save's peak above what the process held before it, and how long this
// thread (the node thread, in a node) was busy during the save.
// `restore-whole` / `restore-pieces`: an install's restore from the snapshot file (read back whole
// before; a piece at a time now), after a save made the file.
// Run: node --expose-gc --import tsx src/bench/snapshot-memory.ts [KEYS] [VALUE_BYTES] [whole|streamed|restore-whole|restore-pieces ...]
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../kv/command.ts';
import { KvStateMachine } from '../kv/machine.ts';
import { EntryType, type SnapshotMeta } from '../raft/types.ts';
import { openNodeStorage } from '../server/storage-adapter.ts';
import { SNAPSHOT_FILE } from '../storage/snapshot_file.ts';

const [keysArg, valueArg, ...modesArg] = process.argv.slice(2);
const KEYS = Number(keysArg ?? 1_000_000);
const VALUE_BYTES = Number(valueArg ?? 100);
const modes = modesArg.length > 0 ? modesArg : ['whole', 'streamed', 'whole', 'streamed'];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

const kv = new KvStateMachine();
const value = 'v'.repeat(VALUE_BYTES);
const BATCH = 1000;
for (let i = 0; i < KEYS; i += BATCH) {
  const ops = [];
  for (let k = i; k < Math.min(KEYS, i + BATCH); k++)
    ops.push({ op: 'put' as const, key: `key-${String(k).padStart(8, '0')}`, value });
  for (const o of ops)
    kv.apply({ index: kv.appliedIndex + 1, term: 1, type: EntryType.Normal, data: encodeCommand(o) });
}
const dir = mkdtempSync(join(tmpdir(), 'leasekv-snapmem-bench-'));
const { storage } = await openNodeStorage(dir);
await storage.persist({
  entries: [],
  hardState: { term: 1, votedFor: 'n1', commit: kv.appliedIndex },
  snapshot: null,
  sync: true,
});

/**
 * An install's restore from the snapshot file on disk (the spool file's role): read back whole, then
 * restoreAsync (before), or read and decoded a piece at a time (restoreFromPieces). The state
 * restored into is dropped after; its pages count in the peak as they would in a node.
 */
async function restoreOnce(pieces: boolean): Promise<void> {
  const fh = await open(join(dir, SNAPSHOT_FILE), 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    const dataAt = 12 + head.readUInt32LE(8);
    const dataBytes = size - dataAt - 4;
    const read = async (offset: number, n: number): Promise<Uint8Array> => {
      const b = Buffer.allocUnsafe(n);
      await fh.read(b, 0, n, dataAt + offset);
      return b;
    };
    const target = new KvStateMachine();
    if (pieces) await target.restoreFromPieces(dataBytes, read);
    else await target.restoreAsync(await read(0, dataBytes));
  } finally {
    await fh.close();
  }
}

let round = 0;
for (const mode of modes) {
  gc();
  gc();
  await new Promise((r) => setTimeout(r, 200));
  const before = process.memoryUsage();
  let peakAb = 0;
  let peakRss = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peakAb = Math.max(peakAb, m.arrayBuffers - before.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss - before.rss);
  };
  const timer = setInterval(sample, 2);
  const meta: SnapshotMeta = { index: kv.appliedIndex + ++round, term: 1, confState: { voters: ['n1'], learners: [] } };
  // The state's own index may not go backwards between saves: a fake index above it per round.
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  if (mode === 'whole') await storage.saveSnapshot(meta, await kv.snapshotAsync());
  else if (mode === 'streamed') await storage.saveSnapshotBody(meta, kv.snapshotPieces());
  else await restoreOnce(mode === 'restore-pieces');
  sample();
  clearInterval(timer);
  const ms = performance.now() - t0;
  // This thread's busy time (the node thread's, in a node): encoding, checksums, the copy's transfer.
  const busyMs = performance.eventLoopUtilization(elu0).active;
  console.log(
    `${mode}: ${KEYS} keys, took ${ms.toFixed(0)} ms (this thread busy ${busyMs.toFixed(0)} ms); peak above before: off-heap ${mib(peakAb)}, resident ${mib(peakRss)} (before: off-heap ${mib(before.arrayBuffers)}, resident ${mib(before.rss)}); load ${loadavg()[0]!.toFixed(1)}`,
  );
}
await storage.close();
rmSync(dir, { recursive: true, force: true });
