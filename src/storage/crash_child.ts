// Child process for the kill -9 test (realfile.test.ts): appends entries to a real WAL, syncing after
// each batch, and prints "ack <lastIndex>" once a batch is durable. Never exits on its own before
// `maxIndex`; the test kills it mid-stream.
// Usage: node --import tsx src/storage/crash_child.ts DIR MAX_INDEX
import { RealFs } from './fs.ts';
import { Wal } from './wal.ts';

export function payloadFor(index: number): Uint8Array {
  return new TextEncoder().encode(`value-${index}-`.repeat(1 + (index % 7)));
}

const [dir, maxArg] = process.argv.slice(2);
if (dir !== undefined && maxArg !== undefined) {
  const maxIndex = Number(maxArg);
  const { wal, state } = Wal.open(new RealFs(), dir, { segmentSizeBytes: 16 * 1024 });
  let next = (state.entries[state.entries.length - 1]?.index ?? 0) + 1;
  while (next <= maxIndex) {
    const batch = [];
    for (let k = 0; k < 1 + (next % 3) && next <= maxIndex; k++, next++)
      batch.push({ index: next, term: 1, type: 0 as const, data: payloadFor(next) });
    wal.append(batch, { term: 1, votedFor: 'n1', commit: next - 1 });
    wal.sync();
    process.stdout.write(`ack ${next - 1}\n`);
  }
  wal.close();
}
