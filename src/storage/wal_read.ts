// Reading entries back from the WAL by index (issue 16: the core keeps only a window of the log in
// memory; a leader reads older entries for a lagging follower). WalIndex says where each entry's
// record starts; a chunk is read there and every record in it checked (checksums, type, index).
import { posix } from 'node:path';
import type { Entry } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import { HEADER_BYTES, MAX_RECORD_BYTES, scanFrames, type Frame } from './frame.ts';
import type { Fd, FileSystem } from './fs.ts';
import * as rec from './records.ts';
import { segmentName } from './recovery.ts';
import type { WalIndex } from './wal_index.ts';

/** What is read at a time from a segment (a record larger than this is read whole). */
const READ_CHUNK_BYTES = 256 * 1024;

export interface WalReadSource {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly index: WalIndex;
  /** The segment being written: read through its open fd. */
  readonly current: { readonly seq: number; readonly fd: Fd };
}

/**
 * Entries from `lo` in index order, until `hi`, the end of the log, or more than `maxBytes` of data
 * (at least one entry). `lo` must be in the index. A damaged record throws StorageCorruptError.
 */
export function readWalEntries(src: WalReadSource, lo: number, hi: number, maxBytes: number): Entry[] {
  const last = Math.min(hi, src.index.lastIndex());
  const out: Entry[] = [];
  const opened = new Map<number, Fd>();
  let bytes = 0;
  try {
    for (let i = lo; i <= last;) {
      const at = src.index.locate(i)!;
      const path = posix.join(src.dir, segmentName(at.seq));
      for (const f of readFramesAt(src.fs, segmentFd(src, at.seq, opened), path, at.offset)) {
        const want = src.index.locate(i);
        if (i > last || want === null || want.seq !== at.seq) break;
        if (at.offset + f.offset !== want.offset) continue; // another record, or a truncated entry
        if (f.type !== rec.RecordType.Entry) throw new StorageCorruptError(path, want.offset, 'not an entry record');
        const e = rec.decodeEntry(f.payload);
        if (e.index !== i) throw new StorageCorruptError(path, want.offset, `entry ${e.index} where ${i} was written`);
        bytes += e.data.length;
        if (out.length > 0 && bytes > maxBytes) return out;
        // A copy: the record's bytes are a view of the whole chunk (which a worker would clone whole).
        out.push({ index: e.index, term: e.term, type: e.type, data: e.data.slice() });
        i++;
      }
    }
  } finally {
    for (const fd of opened.values()) src.fs.close(fd);
  }
  return out;
}

/** The segment `seq`: the current one's fd, or an older one opened for this read. */
function segmentFd(src: WalReadSource, seq: number, opened: Map<number, Fd>): Fd {
  if (seq === src.current.seq) return src.current.fd;
  let fd = opened.get(seq);
  if (fd === undefined) {
    fd = src.fs.open(posix.join(src.dir, segmentName(seq)), { create: false });
    opened.set(seq, fd);
  }
  return fd;
}

/** The whole records in a chunk read at `offset` (at least the first, however large). */
function readFramesAt(fs: FileSystem, fd: Fd, path: string, offset: number): Frame[] {
  const head = fs.read(fd, offset, READ_CHUNK_BYTES);
  let frames = scanFrames(head).frames;
  if (frames.length === 0 && head.length >= HEADER_BYTES) {
    const length = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true);
    // (A damaged header's length is not trusted with an allocation: scanFrames checks it after.)
    if (length <= MAX_RECORD_BYTES) frames = scanFrames(fs.read(fd, offset, HEADER_BYTES + length)).frames;
  }
  if (frames.length === 0) throw new StorageCorruptError(path, offset, 'no whole record where an entry was written');
  return frames;
}
