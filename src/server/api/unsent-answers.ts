// A bound on answer bytes written but not yet read by their clients (session 11 audit).
//
// Admission and the answer budget (answer-budget.ts) bound the requests and answers being *built*;
// once an answer is handed to the connection it counts no more. A client that does not read — an
// HTTP/2 stream with a flow-control window of 0, or a socket it never reads — leaves every answer
// in the node's memory until the connection closes, and it can keep opening connections: four
// HTTP/2 connections of 200 Ranges of 2 MB each, never read, took a node from 128 to 834 MiB, and
// nothing stopped a fifth. A slow reader must cost its own requests, not the node's memory.
//
// So the bytes waiting in each HTTP/2 stream and HTTP/1.1 answer (their writableLength: Node keeps
// them until they are sent; an HTTP/1.1 answer queued behind a pipelined one waits in the answer
// itself) are summed per source address every SAMPLE_MS, and a new request from
// a source past MAX_UNSENT_BYTES_PER_SOURCE — or, while all sources together are past
// MAX_UNSENT_BYTES, from any source with bytes unsent — is refused at once with resource_exhausted
// (429; gRPC status 8), before any work. A client reading its answers holds ~0 bytes and is never
// refused by this. Sampling, not counting every write, keeps the request path at a map insertion;
// what arrives between two samples is bounded by the in-flight counts and the answer budget.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { grpcMessageHeader } from './errors.ts';

/** One source's unsent answer bytes past which its new requests are refused. */
export const MAX_UNSENT_BYTES_PER_SOURCE = 64 * 1024 * 1024;
/** All sources' unsent answer bytes past which a source with any unsent is refused. */
export const MAX_UNSENT_BYTES = 256 * 1024 * 1024;
/** How often the unsent bytes are summed while connections are open. */
export const SAMPLE_MS = 50;

/** What holds a request's unsent answer bytes: the HTTP/2 stream, or the HTTP/1.1 answer. */
interface Holder {
  readonly writableLength: number;
  readonly destroyed: boolean;
  /** HTTP/1.1: every byte handed to the socket's system buffers. */
  readonly writableFinished?: boolean;
  /** HTTP/2: the stream ended. */
  readonly closed?: boolean;
}

export interface UnsentAnswersStats {
  /** Requests refused because their source's answers were not being read. */
  refused: number;
}

export class UnsentAnswers {
  readonly stats: UnsentAnswersStats = { refused: 0 };
  /** Each holder's source, and for an HTTP/1.1 answer its socket (an answer queued behind another is never told the socket died). */
  readonly #holders = new Map<Holder, [string, { readonly destroyed: boolean } | null]>();
  #bySource = new Map<string, number>();
  #total = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly maxPerSourceBytes = MAX_UNSENT_BYTES_PER_SOURCE,
    readonly maxTotalBytes = MAX_UNSENT_BYTES,
    readonly sampleMs = SAMPLE_MS,
  ) {}

  /** Sums of the last sample. */
  get totalBytes(): number {
    return this.#total;
  }

  sourceBytes(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /**
   * Refuses the request (answered here; true) when its source is over a bound; else tracks where
   * its answer will wait and returns false.
   */
  admit(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    const http2 = 'stream' in req;
    const source = (http2 ? req.stream.session?.socket?.remoteAddress : req.socket.remoteAddress) ?? '';
    const why = this.#refusal(source);
    if (why !== null) {
      this.stats.refused++;
      refuse(req, res, why);
      return true;
    }
    // No listener per request (the JSON fast path is hot): the sample drops finished holders.
    if (http2) this.#holders.set(req.stream, [source, null]);
    else this.#holders.set(res as ServerResponse, [source, req.socket]);
    this.#timer ??= setInterval(() => this.sample(), this.sampleMs).unref();
    return false;
  }

  /** Sums the unsent bytes per source now (the timer does this every sampleMs; tests call it). */
  sample(): void {
    const bySource = new Map<string, number>();
    let total = 0;
    for (const [h, [source, socket]] of this.#holders) {
      if (h.destroyed || h.closed === true || h.writableFinished === true || socket?.destroyed === true) {
        this.#holders.delete(h);
        continue;
      }
      const n = h.writableLength;
      if (n === 0) continue;
      total += n;
      bySource.set(source, (bySource.get(source) ?? 0) + n);
    }
    this.#bySource = bySource;
    this.#total = total;
    if (this.#holders.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#holders.clear();
  }

  #refusal(source: string): string | null {
    const mine = this.#bySource.get(source) ?? 0;
    if (mine > this.maxPerSourceBytes)
      return `${mine} bytes of answers to ${source} are waiting for the client to read them, over the limit of ${this.maxPerSourceBytes}; read the answers (HTTP/2: open the flow-control window) before sending more requests`;
    if (mine > 0 && this.#total > this.maxTotalBytes)
      return `${this.#total} bytes of answers are waiting for clients to read them on this node, over the limit of ${this.maxTotalBytes}, ${mine} of them to ${source}; read the answers before sending more requests`;
    return null;
  }
}

/** resource_exhausted in the request's protocol: a trailers-only gRPC answer, else 429 with a JSON body. */
function refuse(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  why: string,
): void {
  const ct = req.headers['content-type'];
  if ('stream' in req && typeof ct === 'string' && /^application\/grpc/i.test(ct)) {
    req.stream.respond(
      { ':status': 200, 'content-type': ct, 'grpc-status': '8', 'grpc-message': grpcMessageHeader(why) },
      { endStream: true },
    );
    return;
  }
  const body = JSON.stringify({ code: 'resource_exhausted', message: why });
  (res as ServerResponse).writeHead(429, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
