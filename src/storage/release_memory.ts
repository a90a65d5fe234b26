// A full garbage collection on the calling thread, for the few moments when a snapshot-sized buffer
// (~100 MiB with a million keys) has just become garbage on a thread that allocates too little to
// collect it soon: the WAL worker after it wrote a snapshot or recovered the data folder, the node
// thread after it restored or installed a snapshot. V8 frees an ArrayBuffer's memory only when a
// collection finds it dead, and an idle isolate does not collect — measured: the WAL worker kept a
// written 100 MiB snapshot resident indefinitely (docs/benchmarks.md, "Scale and memory").
//
// Node exposes gc() only with --expose-gc; setting the flag at run time exposes it to contexts made
// afterwards, so one is made for it. If that ever fails, this does nothing (memory is only freed
// later, by the next collection V8 chooses to run).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type: 'major'; flavor: 'last-resort' }) => void;
let gc: Gc | null | undefined;

export interface CollectOptions {
  /**
   * Compact the old generation too: move the survivors out of sparsely used pages so that those
   * pages can be given back. V8's own heuristics (the memory-reducing collection included) leave a
   * page with any live object in place, so after a load whose survivors are scattered over the heap
   * the heap keeps its grown size — measured: 110 MiB of objects, 2 % of them kept, scattered: 129
   * MiB of heap after both collections below, 38 MiB with compaction (release_memory.test.ts). More
   * pause (the survivors are copied); for a thread gone idle (server/idle-collect.ts).
   */
  readonly compact?: boolean;
}

/** Collects garbage now (a pause of tens of ms or more on this thread; call only after a large buffer died). */
export function collectGarbage(o: CollectOptions = {}): void {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: Gc }).gc;
    try {
      if (exposed === undefined) setFlagsFromString('--expose-gc');
      gc = exposed ?? (runInNewContext('gc') as Gc);
    } catch {
      gc = null;
    }
  }
  // A plain full collection first: on Node 20 the memory-reducing one alone never frees an
  // ArrayBuffer that came from another thread (a snapshot transferred to the WAL worker stayed
  // resident through any number of them; one plain gc() frees it — measured, docs/benchmarks.md
  // "Scale and memory"). Then 'last-resort', V8's memory-reducing collection, which also gives the
  // heap's emptied pages back (measured: a plain gc() left a process at 208 MiB resident, this one
  // at 92 MiB).
  // V8 reads this flag when a full collection starts, so turning it on around one collection
  // compacts that one only (V8's flags are the process's: a collection another thread starts in
  // between compacts too, which costs it time, never correctness).
  if (o.compact === true && gc !== null) setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc?.();
  } finally {
    if (o.compact === true && gc !== null) setFlagsFromString('--no-compact-on-every-full-gc');
  }
  gc?.({ type: 'major', flavor: 'last-resort' });
}
