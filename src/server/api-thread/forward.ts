// The API thread's side of the extra routes (dashboard, its feed, /metrics, /health, /snapshot):
// they need the node's objects, so they are served on the node's thread by a private HTTP server
// (admin-server.ts) that only the API thread talks to; requests are forwarded there and the
// answers streamed back. They are few and for operators: a bounded number run at once.
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RouteHandler } from '../api/server.ts';

/** Extra-route requests forwarded at once; more get 503 (they are for operators, not clients). */
export const MAX_FORWARDED = 128;

/** Hop-by-hop headers: each side of the forwarder sets its own. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function endToEnd(h: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // HTTP/2 pseudo-headers (':method', ':path', …) are not HTTP/1.1 header names: node:http throws on
  // them, and a throw here would end the API thread (and so the node) on any h2 request.
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k) && !k.startsWith(':')) out[k] = v;
  return out;
}

/** API thread: a route handler that forwards to the node's private server. */
export function forwardTo(socketPath: string): RouteHandler {
  let open = 0;
  return (req, res) => {
    if (open >= MAX_FORWARDED) {
      writeJsonError(res, 503, 'unavailable', `too many requests to ${req.url ?? ''} at once; retry`);
      return;
    }
    open++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      open--;
      up.destroy();
    };
    let up: ReturnType<typeof request>;
    try {
      up = makeRequest();
    } catch (e) {
      // A request node:http refuses to build is the caller's fault, never a reason to stop the node.
      open--;
      done = true;
      writeJsonError(res, 400, 'invalid_argument', `cannot forward this request: ${(e as Error).message}`);
      return;
    }
    wire(up);
    function makeRequest(): ReturnType<typeof request> {
      return request(
        { socketPath, method: req.method, path: req.url, headers: endToEnd(req.headers), agent: false },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
          // Feeds (server-sent events) must not wait in a buffer.
          res.flushHeaders();
          upRes.pipe(res);
        },
      );
    }
    function wire(up: ReturnType<typeof request>): void {
      up.on('error', () => {
        if (!res.headersSent) writeJsonError(res, 502, 'unavailable', 'the node did not answer');
        else res.destroy();
        finish();
      });
      res.on('close', finish);
      req.pipe(up);
    }
  };
}

/** An error answered without Connect: JSON {code, message} like Connect's (api/rpc.ts writeJsonError). */
export function writeJsonError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
