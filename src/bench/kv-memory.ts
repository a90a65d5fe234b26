// Memory and restore cost of the key-value state machine alone (issue 16), in one process:
//   node --expose-gc --import tsx src/bench/kv-memory.ts [KEYS] [VALUE_BYTES]
// Applies KEYS puts (ascending keys of 14 bytes, values of VALUE_BYTES), then prints the heap and
// off-heap bytes they take against their raw size, and the time to take a snapshot and restore it.
import { encodeCommand } from '../kv/command.ts';
import { KvStateMachine } from '../kv/machine.ts';
import { EntryType } from '../raft/types.ts';

const keys = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const settle = async (): Promise<NodeJS.MemoryUsage> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
};
const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const before = await settle();
const kv = new KvStateMachine();
const filler = 'x'.repeat(valueBytes);
let t = performance.now();
for (let i = 1; i <= keys; i++) {
  const n = String(i).padStart(10, '0');
  const value = filler.slice(0, valueBytes - 10) + n;
  kv.apply({ index: i, term: 1, type: EntryType.Normal, data: encodeCommand({ op: 'put', key: `key-${n}`, value }) });
}
const applyMs = performance.now() - t;
const after = await settle();
const raw = kv.approxBytes;
console.log(`${keys} keys, raw ${mib(raw)}; applied in ${applyMs.toFixed(0)} ms`);
const heap = after.heapUsed - before.heapUsed;
const ext = after.arrayBuffers - before.arrayBuffers;
console.log(
  `heap +${mib(heap)}, off-heap +${mib(ext)}: ${((heap + ext) / raw).toFixed(2)}x raw; process rss ${mib(after.rss)}`,
);
t = performance.now();
const snap = await kv.snapshotAsync();
console.log(`snapshot ${mib(snap.length)} in ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
const copy = new KvStateMachine();
await copy.restoreAsync(snap);
console.log(`restored ${copy.size} keys in ${(performance.now() - t).toFixed(0)} ms`);
