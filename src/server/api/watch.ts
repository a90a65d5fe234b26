// Watch over the wire (issue 14): the server-streaming RPC (gRPC, Connect) and server-sent events
// for plain HTTP (GET /v1/watch). Both stream the batches of one watcher (watch/hub.ts): one
// message per revision with events, and progress notifications (no events) when idle — which
// also keep the connection busy, so idle timeouts of the front end never close a live watch.
//
// No message is bigger than --max-response-bytes (session 11): one transaction of 128 deletes of
// 1 MiB values was one 134 MB WatchResponse with prev_kv, which grpc-js, grpc-go and grpcurl refuse
// (4 MiB receive limit: RESOURCE_EXHAUSTED, the watch lost), and one 134 MB server-sent event. The
// watcher splits a revision into pieces under the cap; a client that asked for fragments (etcd's
// WatchRequest.fragment) gets them, all but the last marked fragment; one that did not is refused
// with resource_exhausted "answer too large" (as a Range over the cap is) rather than sent a
// message it cannot receive — etcd sends the whole revision there.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { create, toJsonString } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  Event_EventType,
  WatchResponseSchema,
  type WatchRequest as ApiWatchRequest,
  type WatchResponse,
} from '../../gen/leasekv/v1/kv_pb.ts';
import type { KvBackend } from '../backend.ts';
import type { WatchBatch, WatchRequest } from '../watch/hub.ts';
import { toConnectError } from './errors.ts';
import type { ApiLimits } from './limits.ts';
import { kvToApi } from './txn.ts';
import { checkKey } from './validate.ts';
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect';
import { allowKey, allowPrefix, type AuthGate } from '../auth/gate.ts';
import { callerOfRequest } from './authz.ts';
import { flagFromQuery, revisionFromText, strictQuery } from './sse-query.ts';

export const SSE_PATH = '/v1/watch';

/** What a response holds besides its events (revision, member id up to 64 characters, fragment): under 128 bytes. */
export const WATCH_RESPONSE_OVERHEAD_BYTES = 128;

/** A watch as the API takes it: the watcher's request, and whether the client takes fragments. */
export interface ApiWatch extends WatchRequest {
  readonly fragment: boolean;
}

function check(r: Omit<ApiWatch, 'maxBatchBytes'>, limits: ApiLimits): ApiWatch {
  if (!r.prefix || r.key !== '') checkKey(r.key, limits, r.prefix ? 'prefix' : 'key');
  if (!Number.isSafeInteger(r.startRevision) || r.startRevision < 0)
    throw new ConnectError(`start revision ${r.startRevision} is not a revision`, Code.InvalidArgument);
  return { ...r, maxBatchBytes: limits.maxResponseBytes - WATCH_RESPONSE_OVERHEAD_BYTES };
}

export function toWatch(req: ApiWatchRequest, limits: ApiLimits): ApiWatch {
  if (req.startRevision > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ConnectError(`start revision ${req.startRevision} is too large`, Code.InvalidArgument);
  return check(
    {
      key: req.key,
      prefix: req.prefix,
      startRevision: Number(req.startRevision),
      prevKv: req.prevKv,
      fragment: req.fragment,
    },
    limits,
  );
}

export function batchToApi(b: WatchBatch, memberId: string): WatchResponse {
  return create(WatchResponseSchema, {
    revision: BigInt(b.revision),
    memberId,
    events: b.events.map((e) => ({
      type: e.type === 'put' ? Event_EventType.PUT : Event_EventType.DELETE,
      kv: kvToApi(e.kv),
      ...(e.prev === undefined ? {} : { prevKv: kvToApi(e.prev) }),
    })),
    fragment: b.fragment === true,
  });
}

/** A revision that needs more than one response, to a client that did not ask for fragments. */
function tooLargeForOne(revision: number, maxBytes: number): ConnectError {
  return new ConnectError(
    `answer too large: the events of revision ${revision} pass the limit of ${maxBytes} bytes for one watch ` +
      `response (--max-response-bytes); watch with fragment: true (server-sent events: fragment=true) to get ` +
      `them in pieces of at most that size, all but the last marked fragment — the leasekv client library and ` +
      `CLI do — or raise --max-response-bytes and your client's receive limit`,
    Code.ResourceExhausted,
  );
}

/**
 * Streams one watcher until the client goes away (signal) or the watcher ends with an error
 * (thrown as a ConnectError: out_of_range "compacted", resource_exhausted "too slow", ...).
 */
export async function* streamWatch(
  backend: KvBackend,
  req: ApiWatch,
  signal: AbortSignal,
): AsyncGenerator<WatchResponse> {
  let memberId = '';
  try {
    memberId = (await backend.status()).id;
  } catch {
    // The id is informational; a watch does not fail for it.
  }
  const { fragment, ...wreq } = req;
  let watcher;
  try {
    watcher = backend.watch(wreq);
  } catch (err) {
    throw toConnectError(err);
  }
  const onAbort = (): void => watcher.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const b of watcher) {
      if (b.fragment === true && !fragment)
        throw tooLargeForOne(b.revision, (req.maxBatchBytes ?? 0) + WATCH_RESPONSE_OVERHEAD_BYTES);
      yield batchToApi(b, memberId);
    }
  } catch (err) {
    throw toConnectError(err);
  } finally {
    signal.removeEventListener('abort', onAbort);
    watcher.cancel();
  }
}

const SSE_PARAMS = ['key', 'prefix', 'rev', 'prevKv', 'fragment'] as const;

/**
 * GET /v1/watch?key=K[&prefix=true][&rev=N][&prevKv=true][&fragment=true]: server-sent events. Each
 * batch is one event: `id` the revision (a reconnecting EventSource sends it back as Last-Event-ID
 * and resumes after it), `event` "events" or "progress", `data` the WatchResponse as protobuf JSON.
 * A fragment has no `id`: the last id stays that of the last whole revision, so a reconnect in the
 * middle of a revision resumes at its start (the reader drops the pieces it held). An error ends
 * the stream with `event: error` and data {"code","message"}.
 */
export function sseHandler(
  backend: KvBackend,
  limits: ApiLimits,
  gate?: AuthGate,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const lastId = req.headers['last-event-id'];
    let r: ApiWatch;
    try {
      // Auth first (issue 15): a watch needs read permission on its key or its whole prefix.
      const id = callerOfRequest(gate, req);
      const q = strictQuery(url.search, SSE_PARAMS);
      // A reconnecting EventSource resumes after the last revision it saw.
      const rev =
        typeof lastId === 'string' && lastId !== ''
          ? revisionFromText(lastId, 'Last-Event-ID') + 1
          : q.has('rev')
            ? revisionFromText(q.get('rev') ?? '', 'rev')
            : 0;
      r = check(
        {
          key: q.get('key') ?? '',
          prefix: flagFromQuery(q, 'prefix'),
          startRevision: rev,
          prevKv: flagFromQuery(q, 'prevKv'),
          fragment: flagFromQuery(q, 'fragment'),
        },
        limits,
      );
      if (r.prefix) allowPrefix(id, r.key, false);
      else allowKey(id, r.key, false);
    } catch (err) {
      const ce = toConnectError(err);
      const body = JSON.stringify({
        code: Code[ce.code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`)),
        message: ce.rawMessage,
      });
      res.writeHead(codeToHttpStatus(ce.code), {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    const ctrl = new AbortController();
    res.on('close', () => ctrl.abort());
    // HTTP/2 (TLS with ALPN) forbids connection headers.
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      // Key data: kept by no cache (no-cache would allow storing it; session 12).
      'cache-control': 'no-store',
      ...(req.httpVersionMajor === 1 ? { connection: 'keep-alive' } : {}),
    });
    res.flushHeaders();
    void (async () => {
      try {
        for await (const m of streamWatch(backend, r, ctrl.signal)) {
          const id = m.fragment ? '' : `id: ${m.revision}\n`;
          const ok = res.write(
            `${id}event: ${m.events.length === 0 ? 'progress' : 'events'}\ndata: ${toJsonString(WatchResponseSchema, m, { alwaysEmitImplicit: true })}\n\n`,
          );
          // Back-pressure: wait for the socket before taking the next batch (the watcher's own
          // bound cuts off a reader that never drains).
          if (!ok) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
        }
      } catch (err) {
        const ce = toConnectError(err);
        const code = Code[ce.code].replace(/[A-Z]/g, (c, i: number) =>
          i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`,
        );
        if (!res.destroyed) res.write(`event: error\ndata: ${JSON.stringify({ code, message: ce.rawMessage })}\n\n`);
      }
      res.end();
    })();
  };
}
