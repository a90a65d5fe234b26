// An HTTP/1.1 response parser for the benchmark's lean client (lean-http.ts): one response at a time
// on a keep-alive connection (the client never pipelines). It reads the status line, the headers
// that frame the body (Content-Length, Transfer-Encoding: chunked, Connection) and the body — by
// length, in chunks, or up to the connection's close when neither is given — and skips interim 1xx
// answers. Every other header is passed over unread. Anything it cannot frame for certain is an
// HttpParseError: the connection is then closed, never guessed at.

/** A head longer than this is refused (both servers send ~200–300 bytes). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A body longer than this is refused (the benchmark's answers are a few hundred bytes). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export class HttpParseError extends Error {}

export interface Response {
  readonly status: number;
  readonly body: Buffer;
  /** False when the server said it closes the connection (or it was read to its close). */
  readonly keepAlive: boolean;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'to-close';

export class ResponseParser {
  private state: State = 'head';
  /** Bytes received and not yet consumed. */
  private buf: Buffer = Buffer.alloc(0);
  private status = 0;
  private keepAlive = true;
  /** Body bytes still to come: of the whole body (length) or of the current chunk. */
  private remaining = 0;
  private parts: Buffer[] = [];
  private bodyBytes = 0;

  /** True between a response's first byte and its last. */
  get midResponse(): boolean {
    return this.state !== 'head' || this.buf.length > 0;
  }

  /**
   * Takes the next bytes from the connection; returns the response once it is whole, else null.
   * Bytes after a whole response are kept for the next call's response (`leftover` says how many).
   */
  push(chunk: Buffer): Response | null {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return this.drain();
  }

  /** Bytes received beyond the last whole response. */
  get leftover(): number {
    return this.buf.length;
  }

  /** The connection ended: the response if it was framed by the close, else an error if one was under way. */
  end(): Response | null {
    if (this.state === 'to-close') return this.finish(false);
    if (this.midResponse) throw new HttpParseError(`connection closed in the middle of an answer (${this.state})`);
    return null;
  }

  private drain(): Response | null {
    for (;;) {
      switch (this.state) {
        case 'head': {
          const end = this.buf.indexOf(HEAD_END);
          if (end < 0) {
            if (this.buf.length > MAX_HEAD_BYTES) throw new HttpParseError('answer head too long');
            return null;
          }
          if (end > MAX_HEAD_BYTES) throw new HttpParseError('answer head too long');
          const head = this.buf.toString('latin1', 0, end);
          this.buf = this.buf.subarray(end + 4);
          const done = this.head(head);
          if (done !== null) return done;
          break;
        }
        case 'length': {
          if (this.buf.length < this.remaining) {
            this.remaining -= this.take(this.buf.length);
            return null;
          }
          this.take(this.remaining);
          return this.finish(this.keepAlive);
        }
        case 'chunk-size': {
          const eol = this.buf.indexOf(CRLF);
          if (eol < 0) {
            if (this.buf.length > 1024) throw new HttpParseError('chunk size line too long');
            return null;
          }
          const line = this.buf.toString('latin1', 0, eol);
          this.buf = this.buf.subarray(eol + 2);
          const m = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(line);
          if (m === null) throw new HttpParseError(`bad chunk size line '${line.slice(0, 40)}'`);
          this.remaining = parseInt(m[1] as string, 16);
          if (this.bodyBytes + this.remaining > MAX_BODY_BYTES) throw new HttpParseError('answer body too long');
          this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          if (this.buf.length === 0) return null;
          this.remaining -= this.take(Math.min(this.remaining, this.buf.length));
          if (this.remaining > 0) return null;
          this.state = 'chunk-end';
          break;
        }
        case 'chunk-end': {
          if (this.buf.length < 2) return null;
          if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new HttpParseError('chunk not followed by CRLF');
          this.buf = this.buf.subarray(2);
          this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          const eol = this.buf.indexOf(CRLF);
          if (eol < 0) {
            if (this.buf.length > MAX_HEAD_BYTES) throw new HttpParseError('trailers too long');
            return null;
          }
          this.buf = this.buf.subarray(eol + 2);
          if (eol === 0) return this.finish(this.keepAlive); // the empty line ends the trailers
          break;
        }
        case 'to-close': {
          if (this.buf.length > 0) this.take(this.buf.length);
          return null;
        }
      }
    }
  }

  /** Parses a head (without its blank line); returns a whole body-less response, or null to read on. */
  private head(head: string): Response | null {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/.exec(lines[0] ?? '');
    if (m === null) throw new HttpParseError(`bad status line '${(lines[0] ?? '').slice(0, 40)}'`);
    const status = Number(m[2]);
    let length: number | null = null;
    let chunked = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpParseError(`bad header line '${line.slice(0, 40)}'`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value)) throw new HttpParseError(`bad content-length '${value.slice(0, 20)}'`);
        if (length !== null && length !== Number(value)) throw new HttpParseError('two different content-lengths');
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        const codings = value.toLowerCase().split(',');
        if (codings[codings.length - 1]?.trim() !== 'chunked')
          throw new HttpParseError(`transfer-encoding '${value.slice(0, 40)}' does not end in chunked`);
        chunked = true;
      } else if (name === 'connection') {
        connection += `${value.toLowerCase()},`;
      }
    }
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (status < 200) return null;
    this.status = status;
    this.keepAlive = m[1] === '1' ? !/(^|,)\s*close\s*,/.test(connection) : /(^|,)\s*keep-alive\s*,/.test(connection);
    if (status === 204 || status === 304) return this.finish(this.keepAlive);
    if (chunked) {
      this.state = 'chunk-size';
    } else if (length !== null) {
      if (length > MAX_BODY_BYTES) throw new HttpParseError('answer body too long');
      this.remaining = length;
      this.state = 'length';
    } else {
      this.state = 'to-close';
    }
    return null;
  }

  /** Moves `n` bytes from the front of the buffer to the body; returns n. */
  private take(n: number): number {
    if (n === 0) return 0;
    this.bodyBytes += n;
    if (this.bodyBytes > MAX_BODY_BYTES) throw new HttpParseError('answer body too long');
    this.parts.push(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return n;
  }

  private finish(keepAlive: boolean): Response {
    const body = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    const r = { status: this.status, body, keepAlive };
    this.state = 'head';
    this.parts = [];
    this.bodyBytes = 0;
    this.remaining = 0;
    this.status = 0;
    this.keepAlive = true;
    return r;
  }
}
