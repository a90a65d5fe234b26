// Child process for the kill -9 tests (realfile.test.ts): appends entries to a real WAL, syncing after
// each batch, and prints "ack <lastIndex>" once a batch is durable. Never exits on its own before
// `maxIndex`; the test kills it mid-stream. With `snapshots`, it also saves a snapshot every 100
// entries the way the node does (issue 13): the file written beside the WAL while appends go on,
// then adopted and the log compacted; it prints "snap <index>" once one is in place.
// Usage: node --import tsx src/storage/crash_child.ts DIR MAX_INDEX [snapshots]
import type { SnapshotMeta } from '../raft/types.ts';
import { RealFs } from './fs.ts';
import { realSideFs, writeSnapshotSide } from './snapshot_save.ts';
import { Wal } from './wal.ts';

export const CRASH_CHILD_SEGMENT_BYTES = 16 * 1024;
const SNAPSHOT_EVERY_ENTRIES = 100;

export function payloadFor(index: number): Uint8Array {
  return new TextEncoder().encode(`value-${index}-`.repeat(1 + (index % 7)));
}

/** The state "snapshot" at `index`: 1 MiB that differs by index, big enough to be cut by a kill. */
export function snapshotBytesFor(index: number): Uint8Array {
  const b = new Uint8Array(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + index) & 0xff;
  return b;
}

async function run(dir: string, maxIndex: number, snapshots: boolean): Promise<void> {
  const { wal, state } = Wal.open(new RealFs(), dir, { segmentSizeBytes: CRASH_CHILD_SEGMENT_BYTES });
  let next = (state.entries.at(-1)?.index ?? state.snapshot?.index ?? 0) + 1;
  let lastSnapshot = state.snapshot?.index ?? 0;
  let saving = false;
  while (next <= maxIndex) {
    const batch = [];
    for (let k = 0; k < 1 + (next % 3) && next <= maxIndex; k++, next++)
      batch.push({ index: next, term: 1, type: 0 as const, data: payloadFor(next) });
    wal.append(batch, { term: 1, votedFor: 'n1', commit: next - 1 });
    wal.sync();
    process.stdout.write(`ack ${next - 1}\n`);
    if (snapshots && !saving && next - 1 - lastSnapshot >= SNAPSHOT_EVERY_ENTRIES) {
      saving = true;
      const meta: SnapshotMeta = { index: next - 1, term: 1, confState: { voters: ['n1'], learners: [] } };
      const opts = { sliceBytes: 64 * 1024 };
      void writeSnapshotSide(realSideFs, dir, meta, snapshotBytesFor(meta.index), opts).then(() => {
        wal.adoptSnapshotFile(meta);
        wal.compact(meta.index);
        lastSnapshot = meta.index;
        saving = false;
        process.stdout.write(`snap ${meta.index}\n`);
      });
    }
    // Let the side write's I/O complete between batches, as the WAL worker's event loop does.
    if (snapshots) await new Promise((r) => setImmediate(r));
  }
  wal.close();
}

const [dir, maxArg, mode] = process.argv.slice(2);
if (dir !== undefined && maxArg !== undefined) await run(dir, Number(maxArg), mode === 'snapshots');
