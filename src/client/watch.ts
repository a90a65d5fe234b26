// Watch in the client library (issue 14): server-sent events from GET /v1/watch on any member,
// resumed after a disconnect, a member's death or a cut-off from the revision after the last one
// seen — so the caller sees every matching change once, in order, across failures. It asks for
// fragments (a revision over the server's --max-response-bytes comes in pieces) and reassembles
// them: the caller always gets whole revisions.
import type { IncomingMessage } from 'node:http';
import { CertificateError, CompactedError, InvalidArgumentError, LeasekvError, UnavailableError } from './errors.ts';
import { describe, isCertificateRefusal, splitHostPort, type Requester } from './transport.ts';
import { sleep, timeoutMs } from './timing.ts';
import type { KeyValue } from './types.ts';

export interface WatchOptions {
  /** Watch every key starting with `key`. */
  readonly prefix?: boolean;
  /**
   * First revision wanted. Default: the revision after the one the first member to answer a Status
   * had applied when the watch began (session 13) — pinned before any stream, so a stream that fails
   * before its first message and a resume elsewhere miss no change from then on.
   */
  readonly startRevision?: number;
  /** Include each event's previous key-value. */
  readonly prevKv?: boolean;
  /** Ends the watch (the iterator returns). */
  readonly signal?: AbortSignal;
  /** Progress notifications are also yielded (default false: only batches with events). */
  readonly progress?: boolean;
  /** No message (events or progress) from a member for this long: it is given up and another asked (default 20000). */
  readonly idleTimeoutMs?: number;
  /**
   * Every member failed in a row and none has sent anything for this long: the watch throws
   * UnavailableError naming the revision to resume from (default: never give up, keep trying).
   */
  readonly unreachableTimeoutMs?: number;
}

export interface WatchEvent {
  readonly type: 'PUT' | 'DELETE';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

/**
 * One revision's events (all of a transaction's, together, however many pieces the server sent
 * them in), or a progress notification (no events).
 */
export interface WatchResponse {
  readonly revision: number;
  readonly events: readonly WatchEvent[];
  /** The member that sent it. */
  readonly memberId: string;
}

/** A response as it came: `fragment` when more of its revision follow. */
type Piece = WatchResponse & { readonly fragment: boolean };

/** A stream's error code for a refused certificate (not a server code). */
const CERTIFICATE = 'certificate';

type Msg = { kind: 'batch'; res: Piece } | { kind: 'error'; code: string; message: string } | { kind: 'end' };

function kv(o: Record<string, unknown> | undefined): KeyValue | undefined {
  if (o === undefined) return undefined;
  return {
    key: String(o['key'] ?? ''),
    value: String(o['value'] ?? ''),
    createRevision: Number(o['createRevision'] ?? 0),
    modRevision: Number(o['modRevision'] ?? 0),
    version: Number(o['version'] ?? 0),
  };
}

function decode(data: string): Piece {
  const j = JSON.parse(data) as {
    revision?: string;
    memberId?: string;
    events?: Record<string, unknown>[];
    fragment?: boolean;
  };
  const events = (j.events ?? []).map((e): WatchEvent => {
    const prev = kv(e['prevKv'] as Record<string, unknown> | undefined);
    const base = {
      type: e['type'] === 'DELETE' ? ('DELETE' as const) : ('PUT' as const),
      kv: kv(e['kv'] as Record<string, unknown>) as KeyValue,
    };
    return prev === undefined ? base : { ...base, prevKv: prev };
  });
  return { revision: Number(j.revision ?? 0), events, memberId: j.memberId ?? '', fragment: j.fragment === true };
}

/**
 * Joins a revision's pieces. add() returns the whole revision once its last piece came, null
 * while more are due; throws on a piece of another revision (the stream is broken: resume).
 * A revision is only ever yielded whole, so pieces lost with a stream are asked for again.
 */
export class Reassembly {
  private revision = 0;
  private held: WatchEvent[] = [];

  add(p: Piece): WatchResponse | null {
    if (this.held.length > 0 && p.revision !== this.revision)
      throw new Error(`a piece of revision ${p.revision} came while revision ${this.revision} was incomplete`);
    if (p.fragment) {
      this.revision = p.revision;
      for (const e of p.events) this.held.push(e);
      return null;
    }
    const { fragment: _, ...whole } = p;
    if (this.held.length === 0) return whole;
    const events = this.held.concat(p.events);
    this.held = [];
    return { ...whole, events };
  }
}

/** One SSE connection as a queue of messages; close() ends it. */
class Stream {
  private readonly queue: Msg[] = [];
  private wake: (() => void) | null = null;
  private buf = '';
  private res: IncomingMessage | null = null;
  private readonly req;

  constructor(
    request: Requester,
    endpoint: string,
    path: string,
    authorization: string | undefined,
    private readonly maxEventChars: number,
  ) {
    const { host, port } = splitHostPort(endpoint);
    const headers = { accept: 'text/event-stream', ...(authorization === undefined ? {} : { authorization }) };
    this.req = request({ host, port, path, method: 'GET', headers }, (res) => {
      this.res = res;
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let body = '';
        const refused = (): void => {
          let code = 'unavailable';
          let message = `HTTP ${res.statusCode}`;
          try {
            const j = JSON.parse(body) as { code?: string; message?: string };
            code = j.code ?? code;
            message = j.message ?? message;
          } catch {
            // not JSON: keep the status
          }
          this.push({ kind: 'error', code, message });
        };
        // A refusal is a short Connect error; past 64 KiB it is something else: read no more.
        res.on('data', (c: string) => {
          body += c;
          if (body.length > 65_536) {
            refused();
            this.close();
          }
        });
        res.on('end', refused);
        res.on('error', refused);
        return;
      }
      res.on('data', (c: string) => this.feed(c));
      res.on('end', () => this.push({ kind: 'end' }));
      res.on('error', () => this.push({ kind: 'end' }));
    });
    this.req.on('error', (e: NodeJS.ErrnoException) =>
      this.push({ kind: 'error', code: isCertificateRefusal(e) ? CERTIFICATE : 'unavailable', message: describe(e) }),
    );
    this.req.end();
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (let i = this.buf.indexOf('\n\n'); i >= 0; i = this.buf.indexOf('\n\n')) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      // Thrown here it would be an uncaught exception (a 'data' handler): a peer that is not a
      // leasekv member, or a broken stream, ends this stream instead (resumed elsewhere).
      try {
        if (event === 'error') {
          const j = JSON.parse(data) as { code?: string; message?: string };
          this.push({ kind: 'error', code: j.code ?? 'internal', message: j.message ?? '' });
        } else if (event === 'events' || event === 'progress') this.push({ kind: 'batch', res: decode(data) });
      } catch (e) {
        this.push({ kind: 'error', code: 'unavailable', message: `malformed ${event} event: ${(e as Error).message}` });
        this.close();
        return;
      }
    }
    // An event (a piece of a revision) is at most about the server's answer cap; a stream that
    // sends more without ending one is not a leasekv member (or is broken): end it, memory bounded.
    if (this.buf.length > this.maxEventChars) {
      this.push({
        kind: 'error',
        code: 'unavailable',
        message: `an event of more than maxResponseBytes (${this.maxEventChars}) was dropped`,
      });
      this.close();
    }
  }

  private push(m: Msg): void {
    this.queue.push(m);
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next message, or null when none came within `timeoutMs`. */
  async next(timeoutMs: number): Promise<Msg | null> {
    if (this.queue.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    return this.queue.shift() ?? null;
  }

  /** Ends the connection and wakes a pending next() (with 'end' if nothing else is queued). */
  close(): void {
    this.res?.destroy();
    this.req.destroy();
    this.push({ kind: 'end' });
  }
}

/**
 * Watches `key` (or the prefix) across members. Resumes from the revision after the last one
 * seen on a disconnect, an idle member, a cut-off (too slow) or a member that does not hold the
 * history (compacted there: the others are asked). Throws CompactedError when no member holds
 * the start revision, InvalidArgumentError for a bad request; returns when `signal` aborts.
 */
export async function* watchEndpoints(
  endpoints: () => readonly string[],
  key: string,
  opts: WatchOptions,
  request: Requester,
  /** The authorization header (issue 15): `renew` gets a new token after a refusal, false if it cannot. */
  auth: { header(): string | undefined; renew(stale: string | undefined): Promise<boolean> } | undefined,
  /** The watch's cancellation (aborted by opts.signal or the client's close()): caller.ts. */
  open: (signal: AbortSignal | undefined) => WatchScope,
  /** The client's maxResponseBytes: the largest event read. */
  maxEventBytes = Number.POSITIVE_INFINITY,
  /** Without startRevision: the revision member `ep` has applied now (its Status), to start after. */
  pin?: (ep: string, signal: AbortSignal) => Promise<number>,
): AsyncGenerator<WatchResponse> {
  let next = opts.startRevision ?? 0;
  const idleMs = opts.idleTimeoutMs ?? 20_000;
  let turn = 0;
  // Members that refused this watch for a reason waiting does not change (compacted past its
  // revision, a refused certificate); once every member has, the watch ends with the reason.
  let refusedBy = new Set<string>();
  let failuresInRow = 0;
  let lastHeardMs = performance.now();
  let lastError = '';
  if (opts.signal?.aborted === true) return;
  const scope = open(opts.signal);
  // opts.signal: the caller is done, the iterator returns. Else the client closed: that is an error
  // the caller must see (the watch did not end because it wanted it to).
  const aborted = (): boolean => {
    if (opts.signal?.aborted === true) return true;
    if (scope.signal.aborted) {
      const resume = next > 0 ? `; resume from revision ${next}` : '';
      throw new LeasekvError('canceled', `client is closed${resume}`);
    }
    return false;
  };
  try {
    yield* watchLoop();
  } finally {
    scope.end();
  }

  async function* watchLoop(): AsyncGenerator<WatchResponse> {
    while (!aborted()) {
      const eps = endpoints();
      const ep = eps[turn % eps.length] as string;
      // Without a start revision the watch starts after the revision of its first answer: pinned
      // here, not by the first stream's first message, which a stream that fails first never sends
      // (the next member's "now" would then be later, and the changes between missed).
      if (next === 0 && pin !== undefined) {
        try {
          next = (await pin(ep, scope.signal)) + 1;
        } catch (e) {
          if (aborted()) return;
          lastError = `${ep}: ${e instanceof Error ? e.message : String(e)}`;
          await failed(ep, e instanceof CertificateError ? e : null, eps.length);
          continue;
        }
      }
      const q = new URLSearchParams({ key });
      q.set('fragment', 'true');
      if (opts.prefix === true) q.set('prefix', 'true');
      if (opts.prevKv === true) q.set('prevKv', 'true');
      if (next > 0) q.set('rev', String(next));
      const authorization = auth?.header();
      const stream = new Stream(request, ep, `/v1/watch?${q.toString()}`, authorization, maxEventBytes);
      const onAbort = (): void => stream.close();
      scope.signal.addEventListener('abort', onAbort, { once: true });
      let reason: LeasekvError | null = null;
      // Per stream: pieces of a revision this stream did not finish are dropped with it.
      const pieces = new Reassembly();
      try {
        for (;;) {
          const m = await stream.next(idleMs);
          if (aborted()) return;
          if (m === null || m.kind === 'end') {
            lastError = `${ep}: ${m === null ? `no message within ${idleMs} ms` : 'stream ended'}`;
            break;
          }
          if (m.kind === 'error') {
            lastError = `${ep}: ${m.message}`;
            if (m.code === 'invalid_argument') throw new InvalidArgumentError(`${ep}: ${m.message}`, ep);
            if (m.code === 'permission_denied') throw new LeasekvError('permission_denied', `${ep}: ${m.message}`, ep);
            if (m.code === 'unauthenticated' && !(await (auth?.renew(authorization) ?? false)))
              throw new LeasekvError('unauthenticated', `${ep}: ${m.message}`, ep);
            if (m.code === 'out_of_range') reason = new CompactedError(`${ep}: ${m.message}`, ep);
            if (m.code === CERTIFICATE) reason = new CertificateError(`${ep}: ${m.message}`, ep);
            break;
          }
          failuresInRow = 0;
          lastHeardMs = performance.now();
          refusedBy = new Set();
          let r: WatchResponse | null;
          try {
            r = pieces.add(m.res);
          } catch (e) {
            lastError = `${ep}: ${(e as Error).message}`;
            break;
          }
          if (r === null) continue;
          const isProgress = r.events.length === 0;
          // A member behind the last one (after a failover) may report progress below what was seen.
          if (isProgress && next > 0 && r.revision < next - 1) continue;
          // From now on resume after this revision (a first progress from "now" fixes the start).
          next = Math.max(next, r.revision + 1);
          if (!isProgress || opts.progress === true) yield r;
        }
      } finally {
        scope.signal.removeEventListener('abort', onAbort);
        stream.close();
      }
      await failed(ep, reason, eps.length);
    }
  }

  /** After a stream (or a pin) failed on `ep`: the next member, a give-up, or a back-off. */
  async function failed(ep: string, reason: LeasekvError | null, members: number): Promise<void> {
    if (reason !== null) {
      refusedBy.add(ep);
      if (refusedBy.size >= members) throw reason;
    } else {
      failuresInRow++;
    }
    turn++;
    const giveUpMs = opts.unreachableTimeoutMs;
    if (giveUpMs !== undefined && failuresInRow >= members && performance.now() - lastHeardMs >= giveUpMs) {
      const resume = next > 0 ? `; resume from revision ${next}` : '';
      throw new UnavailableError(
        `no member answered the watch for ${giveUpMs} ms (last error: ${lastError})${resume}`,
        ep,
      );
    }
    // Back off after a full round of failures; the next member is tried at once otherwise.
    if (failuresInRow >= members) await sleep(Math.min(1000, 50 * failuresInRow), scope.signal);
  }
}

/** What watchEndpoints needs of a call scope (caller.ts CallScope). */
export interface WatchScope {
  readonly signal: AbortSignal;
  end(): void;
}

/** Refuses watch options that cannot work, at the call (RangeError naming the option). */
export function validateWatch(opts: WatchOptions): void {
  const rev = opts.startRevision;
  if (rev !== undefined && !(Number.isSafeInteger(rev) && rev >= 0))
    throw new RangeError(`LeasekvClient.watch: startRevision must be an integer >= 0, got ${String(rev)}`);
  if (opts.idleTimeoutMs !== undefined) timeoutMs('watch idleTimeoutMs', opts.idleTimeoutMs);
  if (opts.unreachableTimeoutMs !== undefined) timeoutMs('watch unreachableTimeoutMs', opts.unreachableTimeoutMs);
}
