// What a count_only Range costs the node's thread (session 13), in one process, on the store alone:
//   node --import tsx src/bench/count-only.ts [CHECKOUT] [KEYS] [ROUNDS]
// Builds KEYS keys (k/00000000.., values of 100 bytes) with CHECKOUT's src/kv (default: this one;
// give another checkout's path to compare builds), then times count_only over the whole store, half
// of it, 10,000 keys in the middle (the most pages to sum), 1,000 and 10 keys: median and max of
// ROUNDS rounds each, in ms.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = resolve(process.argv[2] ?? '.');
const keys = Number(process.argv[3] ?? 200_000);
const rounds = Number(process.argv[4] ?? 30);
type Store = { set(k: string, v: string, c: number, m: number, ver: number): void };
type Range = (
  s: Store,
  q: { prefix: string; limit: number; countOnly: boolean; maxBytes: number },
) => { count?: number };
const { KeyStore } = (await import(pathToFileURL(`${dir}/src/kv/store.ts`).href)) as { KeyStore: new () => Store };
const { rangeAnswer } = (await import(pathToFileURL(`${dir}/src/kv/range.ts`).href)) as { rangeAnswer: Range };

const store = new KeyStore();
const value = 'v'.repeat(100);
for (let i = 0; i < keys; i++) store.set(`k/${String(i).padStart(8, '0')}`, value, 1, i + 1, 1);
// Keys k/00000000 … k/00199999 at the default KEYS.
const cases: [string, string][] = [
  ['whole store', ''],
  ['first half (100,000)', 'k/000'],
  ['middle (10,000)', 'k/0010'],
  ['1,000 keys', 'k/00000'],
  ['10 keys', 'k/0000000'],
];
for (const [name, prefix] of cases) {
  const times: number[] = [];
  let count = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    count = rangeAnswer(store, { prefix, limit: 1, countOnly: true, maxBytes: 1 }).count ?? -1;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  const max = times[times.length - 1] as number;
  console.log(
    `${name.padEnd(24)} prefix ${JSON.stringify(prefix).padEnd(14)} count ${String(count).padStart(7)}  median ${median.toFixed(3)} ms  max ${max.toFixed(3)} ms`,
  );
}
