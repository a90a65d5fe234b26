// gRPC answers written by Connect carry `grpc-message` percent-encoded with encodeURIComponent,
// which also encodes ':', ';', ',', '/' and spaces. The gRPC spec encodes only bytes outside
// 0x20–0x7E and '%'; @grpc/grpc-js decodes with decodeURI, which leaves "%3B" and "%3A" in
// `err.details` ("not leader%3B leader is n2 at 127.0.0.1%3A7002"). Answers of ours are spelled
// the spec's way already (grpcMessageHeader); this respells Connect's as they are written.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { grpcMessageHeader } from './errors.ts';

const GRPC_MESSAGE = 'grpc-message';

/** True for the gRPC content types (not gRPC-web, whose trailers are in the body). */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const ct = contentType.trim().toLowerCase();
  return ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;');
}

/** The spec's spelling of a value Connect encoded with encodeURIComponent (kept as is if not valid). */
export function respell(value: string): string {
  let plain: string;
  try {
    plain = decodeURIComponent(value);
  } catch {
    return value;
  }
  return grpcMessageHeader(plain);
}

function respellIn(headers: OutgoingHttpHeaders | undefined): void {
  const v = headers?.[GRPC_MESSAGE];
  if (headers !== undefined && typeof v === 'string') headers[GRPC_MESSAGE] = respell(v);
}

/**
 * Respells `grpc-message` in the headers (a trailers-only answer) and trailers this response is
 * given through writeHead(status, headers) and addTrailers(headers) — the two calls Connect's node
 * adapter makes (connect-node's universalResponseToNodeResponse).
 */
export function respellGrpcMessages(res: ServerResponse | Http2ServerResponse): void {
  const r = res as ServerResponse;
  const writeHead = r.writeHead;
  const addTrailers = r.addTrailers;
  r.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const last = args[args.length - 1];
    if (typeof last === 'object' && last !== null && !Array.isArray(last)) respellIn(last as OutgoingHttpHeaders);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  r.addTrailers = function (this: ServerResponse, headers) {
    if (typeof headers === 'object' && !Array.isArray(headers)) respellIn(headers as OutgoingHttpHeaders);
    return addTrailers.call(this, headers);
  };
}
