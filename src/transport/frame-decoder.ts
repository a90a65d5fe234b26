// Splits a TCP byte stream into frames. The length prefix is checked against maxFrameBytes before
// the body is buffered; a body is concatenated once, when complete (no quadratic re-copying while a
// large frame trickles in).
import { Buffer } from 'node:buffer';
import { DecodeError, decodeFrameBody, FRAME_OVERHEAD_BYTES, type Frame } from './codec.ts';

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Total bytes (prefix included) of the frame being assembled; 0 while its prefix is unread. */
  private frameBytes = 0;

  constructor(private maxFrameBytes: number) {}

  /** Changes the bound for the next frames (an inbound connection raises it once the handshake is done). */
  setMaxFrameBytes(n: number): void {
    this.maxFrameBytes = n;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds bytes; calls onFrame for each complete frame. Throws DecodeError on a bad stream. */
  push(chunk: Uint8Array, onFrame: (f: Frame, frameBytes: number) => void): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
    for (;;) {
      if (this.frameBytes === 0) {
        if (this.buffered < 4) return;
        const bodyBytes = this.peekU32();
        if (bodyBytes < FRAME_OVERHEAD_BYTES - 4) throw new DecodeError(`frame length ${bodyBytes} too small`);
        if (bodyBytes + 4 > this.maxFrameBytes) {
          throw new DecodeError(`frame of ${bodyBytes + 4} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`);
        }
        this.frameBytes = bodyBytes + 4;
      }
      if (this.buffered < this.frameBytes) return;
      const size = this.frameBytes;
      const frame = this.take(size);
      this.frameBytes = 0;
      onFrame(decodeFrameBody(frame.subarray(4)), size);
    }
  }

  private peekU32(): number {
    let first = this.chunks[0] as Buffer;
    if (first.length < 4) {
      first = Buffer.concat(this.chunks);
      this.chunks = [first];
    }
    return first.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}
