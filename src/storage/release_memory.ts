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

let gc: (() => void) | null | undefined;

/** Collects garbage now (a pause of tens of ms on this thread; call only after a large buffer died). */
export function collectGarbage(): void {
  if (gc === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    try {
      if (exposed === undefined) setFlagsFromString('--expose-gc');
      gc = exposed ?? (runInNewContext('gc') as () => void);
    } catch {
      gc = null;
    }
  }
  gc?.();
}
