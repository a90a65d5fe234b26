// The WAL's records between append() and the next write (wal.ts): framed in place, back to back, in
// one buffer reused from batch to batch (the FileSystem copies what it is given) — not a payload
// and a frame per record, and one more copy of them all per write, as before (issue 16: a
// follower's WAL worker made ~7 small buffers per entry; 3.9–4.4 → 1.0–1.1 µs of CPU an entry).
import type { Entry } from '../raft/types.ts';
import { HEADER_BYTES, MAX_RECORD_BYTES, sealFrame } from './frame.ts';
import * as rec from './records.ts';

/** The buffer's size when empty; one that grew past 16× this is dropped once written. */
const INITIAL_BYTES = 64 * 1024;

export class PendingRecords {
  /** Its size stays a multiple of 8; `words` views all of it (crc32c). */
  private buf = new Uint8Array(INITIAL_BYTES);
  private words = new Int32Array(this.buf.buffer);
  /** Framed and not yet taken: buf[0, bytes). */
  bytes = 0;

  /** Frames `payload`. */
  add(type: number, payload: Uint8Array): void {
    const at = this.reserve(HEADER_BYTES + payload.length);
    this.buf.set(payload, at + HEADER_BYTES);
    sealFrame(this.buf, at, type, payload.length, this.words);
  }

  /** Frames an entry, its payload (records.ts) written straight into the buffer. */
  addEntry(e: Entry): void {
    const payloadBytes = rec.entryPayloadBytes(e);
    const at = this.reserve(HEADER_BYTES + payloadBytes);
    rec.writeEntryPayload(this.buf, at + HEADER_BYTES, e);
    sealFrame(this.buf, at, rec.RecordType.Entry, payloadBytes, this.words);
  }

  /** What is framed (a view, valid until the next add() or written()). */
  framed(): Uint8Array {
    return this.buf.subarray(0, this.bytes);
  }

  /** The framed bytes were written: empties the buffer (one grown by a large record gives its memory back). */
  written(): void {
    this.bytes = 0;
    if (this.buf.length <= 16 * INITIAL_BYTES) return;
    this.buf = new Uint8Array(INITIAL_BYTES);
    this.words = new Int32Array(this.buf.buffer);
  }

  /** Claims `n` bytes at the end (growing the buffer); returns where they start. */
  private reserve(n: number): number {
    // Before anything is claimed: a record too large to frame leaves the buffer as it was.
    if (n - HEADER_BYTES > MAX_RECORD_BYTES)
      throw new Error(`frame: payload ${n - HEADER_BYTES} bytes > ${MAX_RECORD_BYTES}`);
    const at = this.bytes;
    if (at + n > this.buf.length) {
      const grown = new Uint8Array(Math.ceil(Math.max(at + n, this.buf.length * 2) / 8) * 8);
      grown.set(this.buf.subarray(0, at));
      this.buf = grown;
      this.words = new Int32Array(grown.buffer);
    }
    this.bytes = at + n;
    return at;
  }
}
