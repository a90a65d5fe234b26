// Watch over the wire (issue 14): the server-streaming RPC (gRPC, Connect) and server-sent events
// for plain HTTP (GET /v1/watch). Both stream the batches of one watcher (watch/hub.ts): one
// message per revision with events, and progress notifications (no events) when idle — which
// also keep the connection busy, so idle timeouts of the front end never close a live watch.
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

export const SSE_PATH = '/v1/watch';

function check(r: WatchRequest, limits: ApiLimits): WatchRequest {
  if (!r.prefix || r.key !== '') checkKey(r.key, limits, r.prefix ? 'prefix' : 'key');
  if (!Number.isSafeInteger(r.startRevision) || r.startRevision < 0)
    throw new ConnectError(`start revision ${r.startRevision} is not a revision`, Code.InvalidArgument);
  return r;
}

export function toWatch(req: ApiWatchRequest, limits: ApiLimits): WatchRequest {
  if (req.startRevision > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ConnectError(`start revision ${req.startRevision} is too large`, Code.InvalidArgument);
  return check(
    { key: req.key, prefix: req.prefix, startRevision: Number(req.startRevision), prevKv: req.prevKv },
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
  });
}

/**
 * Streams one watcher until the client goes away (signal) or the watcher ends with an error
 * (thrown as a ConnectError: out_of_range "compacted", resource_exhausted "too slow", ...).
 */
export async function* streamWatch(
  backend: KvBackend,
  req: WatchRequest,
  signal: AbortSignal,
): AsyncGenerator<WatchResponse> {
  let memberId = '';
  try {
    memberId = (await backend.status()).id;
  } catch {
    // The id is informational; a watch does not fail for it.
  }
  let watcher;
  try {
    watcher = backend.watch(req);
  } catch (err) {
    throw toConnectError(err);
  }
  const onAbort = (): void => watcher.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const b of watcher) yield batchToApi(b, memberId);
  } catch (err) {
    throw toConnectError(err);
  } finally {
    signal.removeEventListener('abort', onAbort);
    watcher.cancel();
  }
}

const TRUE = new Set(['1', 'true', 'yes']);

/**
 * GET /v1/watch?key=K[&prefix=true][&rev=N][&prevKv=true]: server-sent events. Each batch is one
 * event: `id` the revision (a reconnecting EventSource sends it back as Last-Event-ID and resumes
 * after it), `event` "events" or "progress", `data` the WatchResponse as protobuf JSON. An error
 * ends the stream with `event: error` and data {"code","message"}.
 */
export function sseHandler(
  backend: KvBackend,
  limits: ApiLimits,
  gate?: AuthGate,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams;
    const lastId = req.headers['last-event-id'];
    let r: WatchRequest;
    try {
      // Auth first (issue 15): a watch needs read permission on its key or its whole prefix.
      const id = callerOfRequest(gate, req);
      const known = new Set(['key', 'prefix', 'rev', 'prevKv']);
      for (const k of q.keys())
        if (!known.has(k))
          throw new ConnectError(`unknown query parameter '${k}' (key, prefix, rev, prevKv)`, Code.InvalidArgument);
      const revText = typeof lastId === 'string' && lastId !== '' ? null : q.get('rev');
      const rev =
        typeof lastId === 'string' && lastId !== '' ? Number(lastId) + 1 : revText === null ? 0 : Number(revText);
      r = check(
        {
          key: q.get('key') ?? '',
          prefix: TRUE.has(q.get('prefix') ?? ''),
          startRevision: rev,
          prevKv: TRUE.has(q.get('prevKv') ?? ''),
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
      'cache-control': 'no-cache',
      ...(req.httpVersionMajor === 1 ? { connection: 'keep-alive' } : {}),
    });
    res.flushHeaders();
    void (async () => {
      try {
        for await (const m of streamWatch(backend, r, ctrl.signal)) {
          const ok = res.write(
            `id: ${m.revision}\nevent: ${m.events.length === 0 ? 'progress' : 'events'}\ndata: ${toJsonString(WatchResponseSchema, m, { alwaysEmitImplicit: true })}\n\n`,
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
