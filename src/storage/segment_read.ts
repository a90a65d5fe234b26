// Reading a segment for recovery without reading its unused zeros into memory. A segment is created
// whole (64 MiB by default) and is mostly zeros until it fills: readFile of the last one made every
// start 0.2–2.5 s slower on a loaded machine (a 64 MiB buffer, page-faulted in and scanned). Here the
// file is read 1 MiB at a time; once a whole aligned 64 KiB block is zero the rest is only checked to
// be zero (through one reused buffer), and the records are scanned in the part before. Whenever that
// part would not scan as it does whole — anything but records followed by zeros — the whole file is
// read instead, so the answer (frames, torn or corrupt, where) is always the whole file's.
import type { FileSystem } from './fs.ts';
import { lastNonZeroFrom, scanFrames, type ScanResult } from './frame.ts';

const CHUNK_BYTES = 1 << 20;
const BLOCK_BYTES = 64 * 1024;

export interface SegmentBytes {
  /** The whole file, or a prefix of it after which every byte is zero. */
  readonly bytes: Uint8Array;
  readonly sizeBytes: number;
  /** scanFrames of the whole file. */
  readonly scan: ScanResult;
}

export function readSegmentBytes(fs: FileSystem, path: string): SegmentBytes {
  const sizeBytes = fs.size(path);
  if (sizeBytes > 2 * CHUNK_BYTES) {
    const prefix = readUntilZeroTail(fs, path, sizeBytes);
    if (prefix !== null) {
      const scan = scanFrames(prefix);
      // Records, then zeros to the end of the prefix (and so of the file): what a whole scan says too.
      if (scan.end.kind === 'torn' && lastNonZeroFrom(prefix, scan.end.offset) < scan.end.offset)
        return { bytes: prefix, sizeBytes, scan };
    }
  }
  const bytes = fs.readFile(path);
  return { bytes, sizeBytes: bytes.length, scan: scanFrames(bytes) };
}

/** The file up to and including its first all-zero aligned block, if every byte after it is zero. */
function readUntilZeroTail(fs: FileSystem, path: string, sizeBytes: number): Uint8Array | null {
  const fd = fs.openRead(path);
  try {
    const parts: Uint8Array[] = [];
    let at = 0;
    for (; at < sizeBytes; at += CHUNK_BYTES) {
      const chunk = fs.read(fd, at, Math.min(CHUNK_BYTES, sizeBytes - at)).slice();
      const zeroBlock = firstZeroBlock(chunk);
      if (zeroBlock < 0) {
        parts.push(chunk);
        continue;
      }
      parts.push(chunk.subarray(0, zeroBlock + BLOCK_BYTES));
      if (lastNonZeroFrom(chunk, zeroBlock) >= zeroBlock) return null;
      break;
    }
    if (at >= sizeBytes) return null;
    const into = new Uint8Array(CHUNK_BYTES);
    for (at += CHUNK_BYTES; at < sizeBytes; at += CHUNK_BYTES) {
      const chunk = fs.read(fd, at, Math.min(CHUNK_BYTES, sizeBytes - at), into);
      if (lastNonZeroFrom(chunk, 0) >= 0) return null;
    }
    return concat(parts);
  } finally {
    fs.close(fd);
  }
}

/** Offset of the first whole aligned block of zeros in chunk (chunks start block-aligned), or -1. */
function firstZeroBlock(chunk: Uint8Array): number {
  for (let b = 0; b + BLOCK_BYTES <= chunk.length; b += BLOCK_BYTES)
    if (lastNonZeroFrom(chunk.subarray(b, b + BLOCK_BYTES), 0) < 0) return b;
  return -1;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
