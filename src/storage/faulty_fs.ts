// An in-memory FileSystem that models what a crash does to a real disk (issue 4), seeded so a seed
// replays a failure exactly:
// - file contents are durable only as of the last fsync(fd); crash() loses the changes since, except
//   that a prefix of them may survive, in order, the last one torn (a prefix of its bytes; a write
//   that grew the file may instead keep its whole size, zero-filled from the sector after the torn
//   point — the size reached the disk, those sectors' data never did). Writes into a file's existing
//   size (a WAL segment created whole) tear the same way, over the bytes that were there;
// - creations, renames and unlinks are durable only after fsyncDir of the folder;
// - flipBit(file, bitOffset) damages stored bytes (media corruption), synced or not.
// Plug into the simulator as: one FaultyFs per node (or one folder per node), `new Wal.open(fs, dir)`
// on start, `fs.crash()` then Wal.open again on a simulated power loss.
import { posix } from 'node:path';
import type { Fd, FileSystem } from './fs.ts';

export interface FaultyFsOptions {
  /** Seed for the fault choices; ignored when `random` is given. */
  readonly seed?: number;
  /** Uniform [0, 1) source, e.g. the simulator's seeded stream. */
  readonly random?: () => number;
  /** Chance that a file's unsynced appended bytes leave a torn partial tail on crash. */
  readonly tornWriteProbability?: number;
  readonly sectorBytes?: number;
}

/** A change since the last fsync: bytes written at an offset, or a new size. */
type Change = { readonly at: number; readonly data: Uint8Array } | { readonly size: number };

interface Inode {
  buf: Uint8Array;
  size: number;
  /** The content as of the last fsync. */
  durable: Uint8Array;
  /** What changed since, in order (a crash may keep a prefix of it). */
  changes: Change[];
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultyFs implements FileSystem {
  private readonly random: () => number;
  private readonly tornP: number;
  private readonly sectorBytes: number;
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private readonly dirs = new Set<string>(['/', '.']);
  private fds = new Map<Fd, Inode>();
  private nextFd = 3;
  /** Counters for tests and metrics. */
  fsyncCount = 0;
  crashCount = 0;
  /** Mutating operations left before the armed crash point; -1 when disarmed. */
  private opsBeforeCrash = -1;

  constructor(opts: FaultyFsOptions = {}) {
    this.random = opts.random ?? mulberry32(opts.seed ?? 1);
    this.tornP = opts.tornWriteProbability ?? 0.5;
    this.sectorBytes = opts.sectorBytes ?? 512;
  }

  mkdirp(dir: string): void {
    let d = posix.normalize(dir);
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      d = posix.dirname(d);
    }
  }
  list(dir: string): string[] {
    const d = posix.normalize(dir);
    if (!this.dirs.has(d)) throw enoent(dir);
    return [...this.names.keys()]
      .filter((p) => posix.dirname(p) === d)
      .map((p) => posix.basename(p))
      .sort();
  }
  exists(path: string): boolean {
    const p = posix.normalize(path);
    return this.names.has(p) || this.dirs.has(p);
  }
  size(path: string): number {
    return this.inode(path).size;
  }
  readFile(path: string): Uint8Array {
    const ino = this.inode(path);
    return ino.buf.slice(0, ino.size);
  }
  open(path: string, opts: { readonly create: boolean }): Fd {
    const p = posix.normalize(path);
    let ino = this.names.get(p);
    if (ino === undefined) {
      if (!opts.create) throw enoent(path);
      this.tick();
      if (!this.dirs.has(posix.dirname(p))) throw enoent(posix.dirname(p));
      ino = { buf: new Uint8Array(256), size: 0, durable: new Uint8Array(0), changes: [] };
      this.names.set(p, ino);
    }
    const fd = this.nextFd++;
    this.fds.set(fd, ino);
    return fd;
  }
  openRead(path: string): Fd {
    return this.open(path, { create: false });
  }
  append(fd: Fd, data: Uint8Array): void {
    this.tick();
    const ino = this.fd(fd);
    ino.changes.push({ at: ino.size, data: data.slice() });
    put(ino, ino.size, data);
  }
  writeAt(fd: Fd, offset: number, data: Uint8Array): void {
    this.tick();
    const ino = this.fd(fd);
    ino.changes.push({ at: offset, data: data.slice() });
    put(ino, offset, data);
  }
  read(fd: Fd, offset: number, length: number, into?: Uint8Array): Uint8Array {
    const ino = this.fd(fd);
    const end = Math.min(ino.size, offset + length);
    const got = ino.buf.subarray(Math.min(offset, end), end);
    if (into === undefined) return got.slice();
    if (into.length < length) throw new RangeError(`FaultyFs.read: ${length} bytes into ${into.length}`);
    into.set(got, 0);
    return into.subarray(0, got.length);
  }
  fsync(fd: Fd): void {
    this.tick();
    const ino = this.fd(fd);
    ino.durable = ino.buf.slice(0, ino.size);
    ino.changes = [];
    this.fsyncCount++;
  }
  close(fd: Fd): void {
    this.fd(fd);
    this.fds.delete(fd);
  }
  rename(from: string, to: string): void {
    this.tick();
    const ino = this.inode(from);
    this.names.delete(posix.normalize(from));
    this.names.set(posix.normalize(to), ino);
  }
  fsyncDir(dir: string): void {
    this.tick();
    const d = posix.normalize(dir);
    for (const p of [...this.durableNames.keys()]) if (posix.dirname(p) === d) this.durableNames.delete(p);
    for (const [p, ino] of this.names) if (posix.dirname(p) === d) this.durableNames.set(p, ino);
    this.fsyncCount++;
  }
  unlink(path: string): void {
    this.tick();
    this.inode(path);
    this.names.delete(posix.normalize(path));
  }
  truncate(path: string, sizeBytes: number): void {
    this.tick();
    const ino = this.inode(path);
    ino.changes.push({ size: sizeBytes });
    resize(ino, sizeBytes);
  }

  /**
   * Power loss: every open fd becomes invalid; each durable name gets back its durable content, and
   * may keep a prefix of the changes since, the last of them torn.
   */
  crash(): void {
    this.crashCount++;
    this.opsBeforeCrash = -1;
    this.fds = new Map();
    const next = new Map<string, Inode>();
    for (const [p, ino] of this.durableNames) next.set(p, this.afterCrash(ino));
    this.names = next;
    this.durableNames = new Map(next);
  }

  /**
   * Arms a crash inside a later operation: the `ops`-th mutating call from now (append, writeAt,
   * fsync, rename, fsyncDir, unlink, truncate, create) throws SimulatedCrash without taking effect.
   * The caller then calls crash(). Lets a test lose power in the middle of a WAL operation.
   */
  crashAfter(ops: number): void {
    this.opsBeforeCrash = ops;
  }

  /** Flips one stored bit (media corruption) in the file's current and durable content. */
  flipBit(path: string, bitOffset: number): void {
    const ino = this.inode(path);
    const byte = Math.floor(bitOffset / 8);
    if (byte >= ino.size) throw new Error(`FaultyFs.flipBit: offset ${byte} beyond ${path} size ${ino.size}`);
    const mask = 1 << (bitOffset % 8);
    ino.buf[byte] = ino.buf[byte]! ^ mask;
    if (byte < ino.durable.length) ino.durable[byte] = ino.durable[byte]! ^ mask;
  }

  private afterCrash(ino: Inode): Inode {
    const out: Inode = {
      buf: new Uint8Array(Math.max(256, ino.durable.length)),
      size: 0,
      durable: ino.durable,
      changes: [],
    };
    put(out, 0, ino.durable);
    if (ino.changes.length > 0 && this.random() < this.tornP) {
      const whole = Math.floor(this.random() * ino.changes.length);
      for (const c of ino.changes.slice(0, whole)) apply(out, c);
      this.tear(out, ino.changes[whole]!);
    }
    out.durable = out.buf.slice(0, out.size);
    return out;
  }

  /**
   * Applies a random prefix of a write's bytes (a resize is kept or not). A write inside the file's
   * size tears at a sector boundary: each sector on the disk holds its old or its new bytes. One that
   * grew the file may keep any prefix (the size is in bytes), or half the time its whole size, zero
   * from the sector after the torn point.
   */
  private tear(ino: Inode, c: Change): void {
    if (!('data' in c)) {
      if (this.random() < 0.5) resize(ino, c.size);
      return;
    }
    const end = c.at + c.data.length;
    const grew = end > ino.size;
    const keep = grew ? Math.floor(this.random() * (c.data.length + 1)) : this.sectorPrefix(c.at, end);
    put(ino, c.at, c.data.subarray(0, keep));
    if (!grew || this.random() < 0.5) return;
    const sectorEnd = Math.min(end, Math.ceil((c.at + keep) / this.sectorBytes) * this.sectorBytes);
    put(ino, c.at, c.data.subarray(0, Math.max(keep, sectorEnd - c.at)));
    resize(ino, end);
  }

  /** How many bytes of a write to [at, end) a random number of its whole sectors holds (0 to all). */
  private sectorPrefix(at: number, end: number): number {
    const first = Math.floor(at / this.sectorBytes);
    const sectors = Math.ceil(end / this.sectorBytes) - first;
    const k = Math.floor(this.random() * (sectors + 1));
    return k === sectors ? end - at : Math.max(0, (first + k) * this.sectorBytes - at);
  }

  private tick(): void {
    if (this.opsBeforeCrash < 0) return;
    if (this.opsBeforeCrash === 0) throw new SimulatedCrash();
    this.opsBeforeCrash--;
  }

  private inode(path: string): Inode {
    const ino = this.names.get(posix.normalize(path));
    if (ino === undefined) throw enoent(path);
    return ino;
  }
  private fd(fd: Fd): Inode {
    const ino = this.fds.get(fd);
    if (ino === undefined) throw new Error(`FaultyFs: fd ${fd} is not open (closed, or lost in a crash)`);
    return ino;
  }
}

/** Thrown by an operation interrupted by a crash armed with crashAfter(). */
export class SimulatedCrash extends Error {
  constructor() {
    super('FaultyFs: simulated power loss');
  }
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}

/** Writes `data` at `offset` (a gap before it reads as zeros). */
function put(ino: Inode, offset: number, data: Uint8Array): void {
  const end = offset + data.length;
  if (end > ino.buf.length) {
    const grown = new Uint8Array(Math.max(end, ino.buf.length * 2));
    grown.set(ino.buf.subarray(0, ino.size));
    ino.buf = grown;
  }
  if (offset > ino.size) ino.buf.fill(0, ino.size, offset);
  ino.buf.set(data, offset);
  if (end > ino.size) ino.size = end;
}

/** ftruncate: shorter drops bytes, longer adds zeros. */
function resize(ino: Inode, sizeBytes: number): void {
  if (sizeBytes > ino.size) put(ino, ino.size, new Uint8Array(sizeBytes - ino.size));
  ino.size = sizeBytes;
}

function apply(ino: Inode, c: Change): void {
  if ('data' in c) put(ino, c.at, c.data);
  else resize(ino, c.size);
}
