// Each thread's V8 heap and off-heap bytes, for /metrics (leasekv_thread_memory_bytes): a node runs
// three V8 isolates (the node thread, the client API thread, the WAL worker), and the resident size
// of the process alone does not say which one holds what (docs/storage.md, "Memory"). A worker
// publishes its process.memoryUsage() (per isolate in a worker, except rss) into a small shared
// buffer once a second; the node thread reads them all when /metrics is scraped.
import { isMainThread, workerData } from 'node:worker_threads';

const KINDS = ['heapUsed', 'heapTotal', 'external', 'arrayBuffers'] as const;
export type MemoryKind = (typeof KINDS)[number];
export type ThreadMemory = Readonly<Record<MemoryKind, number>>;

/** How often a worker publishes its numbers. */
const PUBLISH_MS = 1000;

/** The latest buffer of each worker, by name ('api', 'wal'); a worker started again replaces its entry. */
const workers = new Map<string, SharedArrayBuffer>();

/** A buffer for the worker about to be started as `name`: pass it in its workerData as `threadMemory`. */
export function threadMemoryBuffer(name: string): SharedArrayBuffer {
  // KiB in Int32: up to 2 TiB per number.
  // One more slot: how many times the worker has published (a reader can wait for a fresh reading).
  const buf = new SharedArrayBuffer((KINDS.length + 1) * Int32Array.BYTES_PER_ELEMENT);
  workers.set(name, buf);
  return buf;
}

function current(): ThreadMemory {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

let publish: (() => void) | null = null;

/**
 * In a worker: publishes this thread's numbers now and then once a second, if its starter passed a
 * buffer (workerData.threadMemory). Called again, publishes now (e.g. right after a collection).
 */
export function publishThreadMemory(): void {
  if (publish !== null) return publish();
  if (isMainThread) return;
  const buf = (workerData as { threadMemory?: unknown } | null)?.threadMemory;
  if (!(buf instanceof SharedArrayBuffer)) return;
  const a = new Int32Array(buf);
  publish = (): void => {
    const m = current();
    KINDS.forEach((k, i) => Atomics.store(a, i, Math.min(0x7fffffff, Math.round(m[k] / 1024))));
    Atomics.add(a, KINDS.length, 1);
  };
  publish();
  setInterval(publish, PUBLISH_MS).unref();
}

/** The node thread's numbers now and each worker's as last published (at most a second old), in bytes. */
export function threadMemory(): Record<string, ThreadMemory> {
  const out: Record<string, ThreadMemory> = { node: current() };
  for (const [name, buf] of workers) {
    const a = new Int32Array(buf);
    const m = {} as Record<MemoryKind, number>;
    KINDS.forEach((k, i) => (m[k] = Atomics.load(a, i) * 1024));
    out[name] = m;
  }
  return out;
}

/** How many times the worker `name` has published its numbers (0: never, or no such worker). */
export function threadMemoryPublications(name: string): number {
  const buf = workers.get(name);
  return buf === undefined ? 0 : Atomics.load(new Int32Array(buf), KINDS.length);
}

export const THREAD_MEMORY_KINDS: readonly MemoryKind[] = KINDS;
