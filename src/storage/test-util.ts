// Fixtures shared by the storage tests (snapshot files, the WAL, the node's storage over them).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import { encodeFrame, scanFrames } from './frame.ts';

/** A fresh folder under the OS temp dir, removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Snapshot metadata at `index` (term 2, voters a, b, c). */
export const snapshotMeta = (index: number): SnapshotMeta => ({
  index,
  term: 2,
  confState: { voters: ['a', 'b', 'c'], learners: [], removed: [] },
});

/** `n` bytes of a pattern that differs by `seed`, so two payloads never compare equal by accident. */
export function patternBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A normal entry at `index` in `term` whose data is `text` (by default `cmd<index>`). */
export const ent = (index: number, term: number, text = `cmd${index}`): Entry => ({
  index,
  term,
  type: 0,
  data: new TextEncoder().encode(text),
});

/** Where a segment's records end (a segment is created whole: its size says nothing of its data). */
export function dataEnd(fs: { readFile(path: string): Uint8Array }, path: string): number {
  return scanFrames(fs.readFile(path)).frames.at(-1)?.end ?? 0;
}

/**
 * Writes what a torn write leaves in a segment created whole: the first part of a 1000-byte entry
 * record at `at` — up to the next sector boundary past its header — and nothing of the rest (zeros,
 * as the segment was created). Returns how many bytes it wrote (what a repair drops).
 */
export function writeTornRecord(write: (at: number, bytes: Uint8Array) => void, at: number): number {
  const frame = encodeFrame(3, new Uint8Array(1000).fill(0x78));
  const upTo = Math.ceil((at + 14) / 512) * 512;
  write(at, frame.subarray(0, upTo - at));
  return upTo - at;
}
