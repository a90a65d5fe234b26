// How long appends wait while the node saves a large snapshot (issue 13; docs/benchmarks.md,
// "Session 6: the snapshot save beside the WAL worker"). Not a test: one process, the node's
// storage (openNodeStorage: the WAL worker over real files), a writer that persists one entry
// (append + fdatasync) every 5 ms, and ROUNDS saves of a SNAPSHOT_MIB snapshot meanwhile; per save
// it prints the save's duration, the writes completed during it and the longest write.
// Run: node --import tsx src/bench/snapshot-save-writes.ts [TREE] [ROUNDS] [SNAPSHOT_MIB]
// TREE (default: this checkout) is the source tree whose storage is measured, so that one script
// measures an A/B pair of worktrees.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Entry } from '../raft/types.ts';
import type { NodeStorage, OpenedStorage } from '../server/storage-adapter.ts';

const [treeArg, roundsArg, mibArg] = process.argv.slice(2);
const tree = treeArg ?? fileURLToPath(new URL('../..', import.meta.url));
const ROUNDS = Number(roundsArg ?? 3);
const SNAPSHOT_MIB = Number(mibArg ?? 100);
const WRITE_EVERY_MS = 5;

const mod = (await import(join(tree, 'src/server/storage-adapter.ts'))) as {
  openNodeStorage: (dir: string) => Promise<OpenedStorage>;
};
const dir = mkdtempSync(join(tmpdir(), 'leasekv-snapsave-bench-'));
const { storage } = await mod.openNodeStorage(dir);
let index = 0;
const entry = (i: number): Entry => ({ index: i, term: 1, type: 0, data: new Uint8Array(100).fill(i & 0xff) });

/** One append + fsync; its wall time in ms. */
async function writeOne(s: NodeStorage): Promise<number> {
  const t0 = performance.now();
  index++;
  await s.persist({
    entries: [entry(index)],
    hardState: { term: 1, votedFor: 'n1', commit: index },
    snapshot: null,
    sync: true,
  });
  return performance.now() - t0;
}

try {
  for (let i = 0; i < 50; i++) await writeOne(storage);
  const quiet: number[] = [];
  for (let i = 0; i < 100; i++) {
    quiet.push(await writeOne(storage));
    await sleep(WRITE_EVERY_MS);
  }
  quiet.sort((a, b) => a - b);
  console.log(`${tree}: no save: write p50 ${quiet[50]!.toFixed(1)} ms, max ${quiet[99]!.toFixed(1)} ms`);
  for (let r = 0; r < ROUNDS; r++) {
    const data = new Uint8Array(SNAPSHOT_MIB * 1024 * 1024).fill(r + 1);
    const meta = { index, term: 1, confState: { voters: ['n1'], learners: [], removed: [] } };
    let saved = false;
    const t0 = performance.now();
    const saving = storage.saveSnapshot(meta, data).then(() => (saved = true));
    const waits: number[] = [];
    while (!saved) {
      waits.push(await writeOne(storage));
      await sleep(WRITE_EVERY_MS);
    }
    await saving;
    const line = [
      `save ${(performance.now() - t0).toFixed(0)} ms`,
      `${waits.length} writes during it`,
      `longest write ${Math.max(...waits).toFixed(0)} ms`,
      `load ${loadavg()[0]!.toFixed(1)}`,
    ];
    console.log(`  ${SNAPSHOT_MIB} MiB snapshot ${r + 1}: ${line.join(', ')}`);
  }
} finally {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}
