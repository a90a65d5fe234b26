// The persister's worker thread: owns the WAL over real files; one message at a time, in order —
// except prepareSnapshot, which writes the node's own snapshot file asynchronously (snapshot_save.ts)
// while later messages (batches: appends and fsyncs) are handled in between.
// Protocol: { id, op, arg } → { id, ok: true, result } | { id, ok: false, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { applyBatch, type PersistRequest } from './backend.ts';
import { unpackBatch } from './packed_batch.ts';
import { StorageCorruptError } from './errors.ts';
import { RealFs } from './fs.ts';
import { collectGarbage } from './release_memory.ts';
import type { Snapshot } from './snapshot_file.ts';
import { realSideFs, writeSnapshotSide } from './snapshot_save.ts';
import { Wal, type WalOptions } from './wal.ts';
import { LOOP_BUSY_MS, startIdleCollect, type IdleCollectOptions } from '../util/idle-collect.ts';
import { publishThreadMemory } from '../util/thread-memory.ts';

const { dir, opts } = workerData as { dir: string; opts: WalOptions };
let wal: Wal | null = null;
publishThreadMemory();

/**
 * Once idle after writing batches (util/idle-collect.ts): each batch's entries arrive as copies
 * (a Buffer each) and are framed into one more buffer, all garbage once written, and this thread's
 * small heap is rarely collected — 6–19 MiB stayed counted off its heap on idle members after a
 * million-key load (docs/benchmarks.md, "Issue 16, session 7: steady-state memory"). Its heap is
 * ~5 MiB: a collection is short.
 */
const WAL_IDLE_COLLECT: IdleCollectOptions = {
  checkIntervalMs: 1000,
  quietWork: 150, // ms of its loop busy (writes and fsyncs) in the second
  minGrowthBytes: 4 * 2 ** 20,
  minGapMs: 5_000,
};
startIdleCollect(WAL_IDLE_COLLECT, LOOP_BUSY_MS, () => {
  collectGarbage();
  publishThreadMemory();
});

function handle(op: string, arg: unknown): unknown {
  switch (op) {
    case 'open': {
      const r = Wal.open(new RealFs(), dir, opts);
      wal = r.wal;
      return { state: r.state, repaired: r.repaired };
    }
    case 'write':
      return applyBatch(wal!, arg as PersistRequest[], () => performance.now());
    case 'writePacked':
      return applyBatch(wal!, unpackBatch(arg as ArrayBuffer), () => performance.now());
    case 'prepareSnapshot': {
      if (wal === null) throw new Error('persist worker: not open');
      const snap = arg as Snapshot;
      return writeSnapshotSide(realSideFs, dir, snap.meta, snap.data);
    }
    case 'compact':
      wal!.compact(arg as number);
      return undefined;
    case 'readEntries': {
      const r = arg as { lo: number; hi: number; maxBytes: number };
      return wal!.readEntries(r.lo, r.hi, r.maxBytes);
    }
    case 'loadSnapshot':
      return wal!.loadSnapshot();
    case 'close':
      wal?.close();
      wal = null;
      return undefined;
    default:
      throw new Error(`persist worker: unknown op ${op}`);
  }
}

/** Buffers at least this large own their ArrayBuffer (Node pools only allocations under 4 KiB). */
const TRANSFER_MIN_BYTES = 1 << 20;

type Message = { id: number; op: string; arg: unknown };

/** A snapshot-sized buffer became garbage on this thread when this message was done. */
function freedLargeBuffer(m: Message): boolean {
  return (
    m.op === 'open' ||
    m.op === 'prepareSnapshot' ||
    (m.op === 'write' && (m.arg as PersistRequest[]).some((r) => r.snapshot !== undefined))
  );
}

function reply(m: Message, result: unknown): void {
  // A loaded snapshot's bytes move to the main thread rather than being copied there.
  const data = (result as { data?: unknown } | null | undefined)?.data;
  // Only large buffers: small ones may live in Node's shared Buffer pool, which must not move.
  const transfer =
    data instanceof Uint8Array && data.buffer instanceof ArrayBuffer && data.byteLength >= TRANSFER_MIN_BYTES
      ? [data.buffer]
      : [];
  parentPort!.postMessage({ id: m.id, ok: true, result }, transfer);
  // Recovery read every segment and the snapshot file; a saved snapshot's bytes were moved here.
  // This thread allocates little, so without a collection that memory would stay resident.
  if (freedLargeBuffer(m))
    setImmediate(() => {
      collectGarbage();
      publishThreadMemory();
    });
}

function replyError(m: Message, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  const extra = e instanceof StorageCorruptError ? { file: e.file, offset: e.offset, reason: e.reason } : {};
  parentPort!.postMessage({ id: m.id, ok: false, error: { name: err.name, message: err.message, ...extra } });
}

parentPort!.on('message', (m: Message) => {
  let result: unknown;
  try {
    result = handle(m.op, m.arg);
  } catch (e) {
    replyError(m, e);
    return;
  }
  if (result instanceof Promise)
    result.then(
      (r: unknown) => reply(m, r),
      (e: unknown) => replyError(m, e),
    );
  else reply(m, result);
});
