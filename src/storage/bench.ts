// Storage benchmark (not a test): fsync'd appends per second with group commit vs one fsync per entry.
// Run: node --import tsx src/storage/bench.ts [--entries N] [--writers W] [--bytes B]
// Results go in docs/benchmarks.md ("Storage").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Entry } from '../raft/types.ts';
import { RealFs } from './fs.ts';
import { Persister, type SyncInfo } from './persister.ts';
import { Wal } from './wal.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '20000' },
    writers: { type: 'string', default: '64' },
    bytes: { type: 'string', default: '128' },
    single: { type: 'string', default: '3000' },
  },
});
const ENTRIES = Number(values.entries);
const WRITERS = Number(values.writers);
const BYTES = Number(values.bytes);
const SINGLE = Number(values.single);
const payload = new Uint8Array(BYTES).fill(0x61);
const entry = (index: number): Entry => ({ index, term: 1, type: 0, data: payload });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

function oneFsyncPerEntry(dir: string): void {
  const { wal } = Wal.open(new RealFs(), dir);
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 1; i <= SINGLE; i++) {
    wal.append([entry(i)], null);
    const s = performance.now();
    wal.sync();
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  wal.close();
  console.log(
    `one fsync per entry : ${Math.round(SINGLE / secs)} appends/s (${SINGLE} entries, fsync p50 ${pct(lat, 50).toFixed(3)} ms, p99 ${pct(lat, 99).toFixed(3)} ms)`,
  );
}

async function groupCommit(dir: string, mode: 'worker' | 'inline'): Promise<void> {
  const syncs: SyncInfo[] = [];
  const onSync = (i: SyncInfo): void => void syncs.push(i);
  const { persister } =
    mode === 'worker'
      ? await Persister.open(dir, { onSync })
      : await Persister.openInline(new RealFs(), dir, { onSync });
  const lag = monitorEventLoopDelay({ resolution: 1 });
  let next = 1;
  const writer = async (): Promise<void> => {
    while (next <= ENTRIES) {
      const i = next++;
      await persister.persist({ entries: [entry(i)], hardState: { term: 1, votedFor: null, commit: i - 1 } });
    }
  };
  lag.enable();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WRITERS }, writer));
  const secs = (performance.now() - t0) / 1000;
  lag.disable();
  await persister.close();
  const fs = syncs.map((s) => s.fsyncMs);
  console.log(
    `group commit, ${mode.padEnd(6)}: ${Math.round(ENTRIES / secs)} appends/s (${ENTRIES} entries, ${WRITERS} writers, ${persister.stats.fsyncs} fsyncs, ` +
      `${(ENTRIES / persister.stats.fsyncs).toFixed(1)} entries/fsync, write+fsync p50 ${pct(fs, 50).toFixed(3)} ms p99 ${pct(fs, 99).toFixed(3)} ms, ` +
      `event-loop delay max ${(lag.max / 1e6).toFixed(2)} ms p99 ${(lag.percentile(99) / 1e6).toFixed(2)} ms)`,
  );
}

const root = mkdtempSync(join(tmpdir(), 'leasekv-bench-'));
try {
  console.log(`storage bench in ${root}: ${BYTES}-byte entries`);
  oneFsyncPerEntry(join(root, 'single'));
  await groupCommit(join(root, 'worker'), 'worker');
  await groupCommit(join(root, 'inline'), 'inline');
} finally {
  rmSync(root, { recursive: true, force: true });
}
