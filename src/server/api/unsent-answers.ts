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
// itself) are summed per source address every sampleMs while any are waiting, and a new request
// from a source past maxUnsentBytesPerSource — or, while all sources together are past
// maxUnsentBytes, from any source with bytes unsent — is refused at once with resource_exhausted
// (429; gRPC status 8), before any work. A client reading its answers holds ~0 bytes and is never
// refused by this. Both bounds are flags (limits.ts: --max-unsent-bytes-per-source, --max-unsent-bytes).
//
// What is watched (session 12: cheaper on the hot path, the bound unchanged): an answer of the
// HTTP/1.1 JSON fast path is looked at once, just after it is handed to the connection (written());
// only if bytes of it are still waiting then is it watched — a reading client's answer has gone to
// the socket's kernel buffer by then, so the hot path costs a property read, not a map entry per
// request. Everything else (Connect, gRPC, HTTP/2, the extra routes) is watched from admission on
// (track()), as before: Connect awaits 'drain' inside its write, so there is no "after the write"
// to hook there, and those paths cost far more per request than an entry. Sampling, not counting
// every write, keeps the request path cheap; what arrives between two samples is bounded by the
// in-flight counts and the answer budget.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { grpcMessageHeader } from './errors.ts';

/** How often the unsent bytes are summed while answers are watched. */
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
  /** Answers watched until sent (fast-path answers only when bytes were left after their write). */
  watched: number;
}

export interface UnsentBounds {
  /** One source's unsent answer bytes past which its new requests are refused. */
  readonly maxUnsentBytesPerSource: number;
  /** All sources' unsent answer bytes past which a source with any unsent is refused. */
  readonly maxUnsentBytes: number;
}

export class UnsentAnswers {
  readonly stats: UnsentAnswersStats = { refused: 0, watched: 0 };
  /** Each holder's source, and for an HTTP/1.1 answer its socket (an answer queued behind another is never told the socket died). */
  readonly #holders = new Map<Holder, [string, { readonly destroyed: boolean } | null]>();
  #bySource = new Map<string, number>();
  #total = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly maxPerSourceBytes: number;
  readonly maxTotalBytes: number;

  constructor(
    bounds: UnsentBounds,
    readonly sampleMs = SAMPLE_MS,
  ) {
    this.maxPerSourceBytes = bounds.maxUnsentBytesPerSource;
    this.maxTotalBytes = bounds.maxUnsentBytes;
  }

  /** Sums of the last sample. */
  get totalBytes(): number {
    return this.#total;
  }

  sourceBytes(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /** Answers watched now (tests). */
  get watching(): number {
    return this.#holders.size;
  }

  /** Refuses the request (answered here; true) when its source is over a bound. */
  admit(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): boolean {
    // Nothing waiting anywhere at the last sample (the usual case): nothing to look up.
    if (this.#total === 0) return false;
    const why = this.#refusal(sourceOf(req));
    if (why === null) return false;
    this.stats.refused++;
    refuse(req, res, why);
    return true;
  }

  /** Whether admit() would refuse a request from `source` now (framing.ts leaves such a request to node:http). */
  refuses(source: string): boolean {
    return this.#total !== 0 && this.#refusal(source) !== null;
  }

  /** Watches the request's answer from now until it is sent (no listener per request: the sample drops finished ones). */
  track(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    const source = sourceOf(req);
    if ('stream' in req) this.#watch(req.stream, source, null);
    else this.#watch(res as ServerResponse, source, req.socket);
  }

  /** An HTTP/1.1 answer just ended: watched only if some of it has not gone to the socket yet. */
  written(res: ServerResponse): void {
    if (res.writableLength > 0 && !res.writableFinished) {
      const socket = res.req.socket;
      this.#watch(res, socket.remoteAddress ?? '', socket);
    }
  }

  /**
   * Answers framing.ts wrote to a socket: watched, like written(), only if bytes of them are still
   * waiting, and until none are (the socket lives on for the next requests).
   */
  writtenRaw(socket: {
    readonly writableLength: number;
    readonly destroyed: boolean;
    readonly remoteAddress?: string | undefined;
  }): void {
    if (socket.writableLength === 0) return;
    const holder: Holder = {
      get writableLength() {
        return socket.writableLength;
      },
      get destroyed() {
        return socket.destroyed;
      },
      get writableFinished() {
        return socket.writableLength === 0;
      },
    };
    this.#watch(holder, socket.remoteAddress ?? '', socket);
  }

  #watch(h: Holder, source: string, socket: { readonly destroyed: boolean } | null): void {
    this.stats.watched++;
    this.#holders.set(h, [source, socket]);
    this.#timer ??= setInterval(() => this.sample(), this.sampleMs).unref();
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
      return `${mine} bytes of answers to ${source} are waiting for the client to read them, over the limit of ${this.maxPerSourceBytes} (--max-unsent-bytes-per-source); read the answers (HTTP/2: open the flow-control window) before sending more requests`;
    if (mine > 0 && this.#total > this.maxTotalBytes)
      return `${this.#total} bytes of answers are waiting for clients to read them on this node, over the limit of ${this.maxTotalBytes} (--max-unsent-bytes), ${mine} of them to ${source}; read the answers before sending more requests`;
    return null;
  }
}

function sourceOf(req: IncomingMessage | Http2ServerRequest): string {
  return ('stream' in req ? req.stream.session?.socket?.remoteAddress : req.socket.remoteAddress) ?? '';
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
