// Storage for one simulated node that goes through the REAL write-ahead log (src/storage/wal.ts)
// over the seeded fault-injecting file layer (FaultyFs), for issue 4: lost unsynced writes on crash,
// torn tails, bit flips. The in-memory copy inherited from MemStorage is what the host and the
// oracles read while the node runs; after a crash it is rebuilt from what Wal.open recovers, so the
// restarted node sees exactly what the WAL kept — nothing the MemStorage model assumed. As in the
// persister (src/storage/persister.ts), requests reach the file when their write+fsync batch starts
// (flush, called by disk.ts); requests made during an fsync wait for the next batch.
import { posix } from 'node:path';
import type { HardState, NodeId } from '../raft/types.ts';
import { StorageCorruptError } from '../storage/errors.ts';
import { FaultyFs, SimulatedCrash } from '../storage/faulty_fs.ts';
import { Wal } from '../storage/wal.ts';
import type { Entry } from '../raft/types.ts';
import { cloneState, MemStorage } from './storage.ts';
import type { StoredSnapshot, StoredState } from './storage.ts';

const DIR = '/data';
/** Small segments, so that rotation and compaction (segment deletion) happen within a seed. */
const SEGMENT_SIZE_BYTES = 4096;
const SEGMENT_OR_SNAPSHOT = /^([0-9a-f]{16}\.wal|snapshot\.snap)$/;

export type OpenOutcome =
  | { readonly kind: 'ok'; readonly repaired: string | null; readonly silentCorruption: string | null }
  | { readonly kind: 'refused'; readonly error: StorageCorruptError };

/** Counters that tests and the trace use to show the fault paths ran. */
export interface WalStats {
  opens: number;
  /** Crashes that hit buffered records (written, fsync never returned): torn-tail candidates. */
  crashesMidWrite: number;
  repairs: number;
  bitFlips: number;
  refusals: number;
}

export class WalStorage extends MemStorage {
  private readonly fs: FaultyFs;
  private wal: Wal | null = null;
  /** Writes handed over but not yet in the file (they go there when the next batch starts). */
  private pending: ((wal: Wal) => void)[] = [];
  /** Bits flipped since the last successful open: each must make the next open refuse. */
  private flips: { file: string; byte: number }[] = [];
  /** Set once Wal.open refused: the node never starts again (see docs/simulator.md). */
  refused: StorageCorruptError | null = null;
  readonly stats: WalStats = { opens: 0, crashesMidWrite: 0, repairs: 0, bitFlips: 0, refusals: 0 };

  constructor(
    members: readonly NodeId[],
    private readonly random: () => number,
  ) {
    super(members);
    this.fs = new FaultyFs({ random });
  }

  override append(entries: readonly Entry[]): void {
    super.append(entries);
    if (entries.length > 0) this.later((w) => w.append(entries, null));
  }

  override setHardState(hs: HardState): void {
    super.setHardState(hs);
    this.later((w) => w.append([], hs));
  }

  override installSnapshot(snap: StoredSnapshot): void {
    super.installSnapshot(snap);
    this.later((w) => w.saveSnapshot(snap.meta, snap.data));
  }

  override compact(snap: StoredSnapshot): void {
    if (snap.meta.index <= this.snapshotIndex()) return;
    super.compact(snap);
    this.later((w) => {
      w.saveSnapshot(snap.meta, snap.data);
      w.compact(snap.meta.index);
    });
  }

  /** Read back through the real WAL (Wal.readEntries), as the server's leader does. */
  override readEntries(lo: number, hi: number, maxBytes: number): Entry[] | null {
    // Only what reached the WAL: writes still queued here (their batch not started) are not read.
    this.logReads.reads++;
    if (this.wal === null) return null;
    const out = this.wal.readEntries(lo, hi, maxBytes);
    this.logReads.entries += out?.length ?? 0;
    return out;
  }

  override flush(): void {
    const wal = this.w();
    const ops = this.pending;
    this.pending = [];
    for (const op of ops) op(wal);
  }

  override syncTo(cut: StoredState): void {
    super.syncTo(cut);
    this.w().sync();
  }

  private later(op: (wal: Wal) => void): void {
    this.w();
    this.pending.push(op);
  }

  /**
   * Power loss while the pending fsync was in flight: the buffered records reach the file but the
   * fsync never returns, so FaultyFs.crash() may keep a torn prefix of them (or lose them all).
   * Then the node's files are recovered at once (as an operator's restart would find them).
   */
  override crash(): void {
    if (this.wal !== null) {
      this.fs.crashAfter(1);
      try {
        this.wal.sync();
      } catch (e) {
        if (!(e instanceof SimulatedCrash)) throw e;
        this.stats.crashesMidWrite++;
      }
    }
    this.fs.crash();
    this.wal = null;
    this.pending = [];
    super.crash();
  }

  /** Flips one random bit of one of the node's segment or snapshot files (media corruption). */
  flipRandomBit(): string | null {
    const files = this.fs.list(DIR).filter((n) => SEGMENT_OR_SNAPSHOT.test(n));
    const candidates = files.map((n) => posix.join(DIR, n)).filter((p) => this.fs.size(p) > 0);
    if (candidates.length === 0) return null;
    const file = candidates[Math.floor(this.random() * candidates.length)]!;
    const bit = Math.floor(this.random() * this.fs.size(file) * 8);
    this.fs.flipBit(file, bit);
    this.flips.push({ file, byte: Math.floor(bit / 8) });
    this.stats.bitFlips++;
    return `${file} bit ${bit}`;
  }

  /** True when the files changed since the last open (so the next start must read them again). */
  get needsOpen(): boolean {
    return this.wal === null || this.flips.length > 0;
  }

  /**
   * Recovers the node's folder through Wal.open and rebuilds the in-memory copy from it. A
   * StorageCorruptError means the node refuses to start; a successful open after a bit flip outside
   * the repaired tail means it would start silently from damaged data (an oracle violation).
   */
  open(): OpenOutcome {
    if (this.refused !== null) return { kind: 'refused', error: this.refused };
    let result: ReturnType<typeof Wal.open>;
    let snapshot: StoredSnapshot | null;
    try {
      result = Wal.open(this.fs, DIR, { segmentSizeBytes: SEGMENT_SIZE_BYTES });
      const snap = result.wal.loadSnapshot();
      snapshot = snap === null ? null : { meta: snap.meta, data: snap.data };
    } catch (e) {
      if (!(e instanceof StorageCorruptError)) throw e;
      this.refused = e;
      this.stats.refusals++;
      return { kind: 'refused', error: e };
    }
    this.stats.opens++;
    const rep = result.repaired;
    if (rep !== null) this.stats.repairs++;
    const silent = this.flips.find((f) => !(rep !== null && rep.file === f.file && f.byte >= rep.offset));
    this.flips = [];
    this.wal = result.wal;
    const st = result.state;
    const state: StoredState = { hardState: st.hardState, snapshot, entries: st.entries.slice() };
    this.volatile = state;
    this.durable = cloneState(state);
    this.dirty = false;
    return {
      kind: 'ok',
      repaired: rep === null ? null : `${rep.file} truncated at byte ${rep.offset} (${rep.bytesDropped} bytes dropped)`,
      silentCorruption:
        silent === undefined
          ? null
          : `${silent.file} byte ${silent.byte} was flipped, yet Wal.open accepted the folder`,
    };
  }

  private w(): Wal {
    if (this.wal === null) throw new Error('sim wal storage: written while not open (host wrote after a crash?)');
    return this.wal;
  }
}
