// The small synchronous file-system interface the WAL is written against, so that the same WAL runs
// on real files (RealFs) and in the simulator over an in-memory disk with injected faults (FaultyFs).
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';

export type Fd = number;

/**
 * `mkdir -p`, one folder at a time. Node's `mkdirSync(dir, { recursive: true })` spins for ever —
 * synchronously, so deaf to SIGTERM — when mkdir answers ENOENT under a parent that exists, as in
 * /proc or /sys (`serve --data-dir /proc/x` hung at 100% CPU; session 9 audit). Here such a path
 * fails with that ENOENT; a dangling symlink fails as before (its target's folder is missing).
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (!statSync(dir).isDirectory())
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
}

export interface FileSystem {
  mkdirp(dir: string): void;
  /** File names (not paths) directly inside `dir`. */
  list(dir: string): string[];
  exists(path: string): boolean;
  size(path: string): number;
  readFile(path: string): Uint8Array;
  /** Opens for reading and writing; creates the file (empty) when `create` and it is missing. */
  open(path: string, opts: { readonly create: boolean }): Fd;
  /** Opens an existing file for read() only (recovery and `wal inspect` must not need write access). */
  openRead(path: string): Fd;
  /** Writes at the end of the file. Not durable until fsync(fd). `data` is not kept: the WAL reuses it. */
  append(fd: Fd, data: Uint8Array): void;
  writeAt(fd: Fd, offset: number, data: Uint8Array): void;
  /**
   * Up to `length` bytes at `offset` (fewer at the end of the file). Into `into` when given (its
   * first `length` bytes; a view of them is returned): a caller reading a large file in slices
   * reuses one buffer instead of leaving a slice of garbage per read (issue 16).
   */
  read(fd: Fd, offset: number, length: number, into?: Uint8Array): Uint8Array;
  /** Makes the file's contents (and size) durable. */
  fsync(fd: Fd): void;
  close(fd: Fd): void;
  /** Atomic replace; durable only after fsyncDir of the folder. */
  rename(from: string, to: string): void;
  /** Makes creations, renames and unlinks of names in `dir` durable. */
  fsyncDir(dir: string): void;
  unlink(path: string): void;
  truncate(path: string, sizeBytes: number): void;
}

/** node:fs synchronous calls. fsync uses fdatasync: it flushes the data and the size (what a WAL needs). */
export class RealFs implements FileSystem {
  /** Write position of each open fd: appends go to the end we know, not to a shared file offset. */
  private readonly ends = new Map<Fd, number>();

  mkdirp(dir: string): void {
    makeDirs(dir);
  }
  list(dir: string): string[] {
    return readdirSync(dir).sort();
  }
  exists(path: string): boolean {
    return existsSync(path);
  }
  size(path: string): number {
    return statSync(path).size;
  }
  readFile(path: string): Uint8Array {
    // The Buffer's own memory, not a copy (a snapshot file is ~120 MiB with a million keys).
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  open(path: string, opts: { readonly create: boolean }): Fd {
    const flags = constants.O_RDWR | (opts.create ? constants.O_CREAT : 0);
    const fd = openSync(path, flags, 0o644);
    this.ends.set(fd, fstatSync(fd).size);
    return fd;
  }
  openRead(path: string): Fd {
    return openSync(path, constants.O_RDONLY);
  }
  append(fd: Fd, data: Uint8Array): void {
    const end = this.ends.get(fd);
    if (end === undefined) throw new Error(`RealFs: fd ${fd} is not open`);
    this.writeAll(fd, end, data);
    this.ends.set(fd, end + data.length);
  }
  writeAt(fd: Fd, offset: number, data: Uint8Array): void {
    this.writeAll(fd, offset, data);
    const end = this.ends.get(fd) ?? 0;
    if (offset + data.length > end) this.ends.set(fd, offset + data.length);
  }
  private writeAll(fd: Fd, offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
  }
  read(fd: Fd, offset: number, length: number, into?: Uint8Array): Uint8Array {
    if (into !== undefined && into.length < length)
      throw new RangeError(`RealFs.read: ${length} bytes into ${into.length}`);
    const out = into ?? new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  }
  fsync(fd: Fd): void {
    fdatasyncSync(fd);
  }
  close(fd: Fd): void {
    this.ends.delete(fd);
    closeSync(fd);
  }
  rename(from: string, to: string): void {
    renameSync(from, to);
  }
  fsyncDir(dir: string): void {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  unlink(path: string): void {
    unlinkSync(path);
  }
  truncate(path: string, sizeBytes: number): void {
    truncateSync(path, sizeBytes);
    // Keep open fds' append position in step (the WAL truncates its own open tail on repair).
    for (const [fd, end] of this.ends)
      if (end > sizeBytes && fstatSync(fd).size === sizeBytes) this.ends.set(fd, sizeBytes);
  }
}
