// Checks on gRPC, gRPC-Web and protobuf request bodies that Connect does not make (issue 13):
// - an envelope's flag byte may only carry bit 0 (compressed); Connect ignores the other bits, so a
//   frame flagged 0x80 (a gRPC-Web trailer, or garbage) was applied as a request;
// - protobuf that does not decode is the client's fault (invalid_argument), but Connect's binary
//   serialization reports every decode error as internal.
// JSON bodies need no step here: Connect's JSON parser is guarded by json-guard.ts (its text decoder).
//
// The body is read once, bounded by maxRequestBytes, checked, and handed to Connect as bytes. When a
// check fails, Connect gets a valid empty request instead and the error through a context value that
// an interceptor throws: Connect then answers it in the request's own protocol (trailers for gRPC).
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip } from 'node:zlib';
import type { DescMessage } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';

const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliDecompress);

/** How a request body is framed and encoded, from its content type. */
export interface Wire {
  /** gRPC, gRPC-Web, Connect streaming: length-prefixed messages ("envelopes"). */
  readonly enveloped: boolean;
  readonly json: boolean;
  /** gRPC-Web text: the envelopes are base64. */
  readonly base64: boolean;
}

const CONNECT_UNARY = /^application\/(json|proto)(?:; ?charset=utf-?8)?$/i;
const ENVELOPED = /^application\/(?:connect\+|grpc(-web(-text)?)?(?:\+|$))(json|proto)?(?:; ?charset=utf-?8)?$/i;

export function wireOf(contentType: string | undefined): Wire | undefined {
  if (contentType === undefined) return undefined;
  const u = CONNECT_UNARY.exec(contentType);
  if (u !== null) return { enveloped: false, json: u[1]!.toLowerCase() === 'json', base64: false };
  const e = ENVELOPED.exec(contentType);
  if (e !== null) return { enveloped: true, json: e[3]?.toLowerCase() === 'json', base64: e[2] !== undefined };
  return undefined;
}

/** Whether the body must be read and checked here before Connect sees it (JSON unary needs nothing). */
export function needsGuard(w: Wire): boolean {
  return w.enveloped || !w.json;
}

const COMPRESSED_FLAG = 0x01;
const ENVELOPE_HEADER_BYTES = 5;

export interface GuardInput {
  readonly wire: Wire;
  readonly body: Buffer;
  /** content-encoding (Connect unary) or grpc-encoding / connect-content-encoding (enveloped). */
  readonly encoding: string | undefined;
  readonly input: DescMessage;
  readonly maxRequestBytes: number;
}

/** The error to answer instead of handing the body to Connect, or null if the body may go on. */
export async function checkBody(g: GuardInput): Promise<ConnectError | null> {
  try {
    if (!g.wire.enveloped) {
      const payload = await decompress(g.body, g.encoding, g.maxRequestBytes);
      if (payload !== null) decodeProto(g.input, payload);
      return null;
    }
    const bytes = g.wire.base64 ? Buffer.from(g.body.toString('latin1'), 'base64') : g.body;
    for (let off = 0; off + ENVELOPE_HEADER_BYTES <= bytes.length;) {
      const flags = bytes[off]!;
      const len = bytes.readUInt32BE(off + 1);
      if ((flags & ~COMPRESSED_FLAG) !== 0) {
        return new ConnectError(
          `message frame flags 0x${flags.toString(16).padStart(2, '0')} are not allowed in a request (only 0x01, compressed)`,
          Code.InvalidArgument,
        );
      }
      const start = off + ENVELOPE_HEADER_BYTES;
      off = start + len;
      if (off > bytes.length) break; // truncated: Connect reports it
      if (g.wire.json) continue; // the JSON decoder is guarded (json-guard.ts)
      const raw = bytes.subarray(start, off);
      const payload = (flags & COMPRESSED_FLAG) === 0 ? raw : await decompress(raw, g.encoding, g.maxRequestBytes);
      if (payload !== null) decodeProto(g.input, payload);
    }
    return null;
  } catch (e) {
    if (e instanceof ConnectError) return e;
    throw e;
  }
}

function decodeProto(input: DescMessage, payload: Uint8Array): void {
  try {
    fromBinary(input, payload);
  } catch (e) {
    throw new ConnectError(
      `cannot decode message ${input.typeName} from binary: ${e instanceof Error ? e.message : String(e)}`,
      Code.InvalidArgument,
    );
  }
}

/** Decompressed bytes; null for an encoding Connect will refuse itself (nothing to check). */
async function decompress(bytes: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer | null> {
  if (encoding === undefined || encoding === 'identity') return bytes;
  if (bytes.length === 0) return bytes;
  const opts = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'gzip') return await gunzipAsync(bytes, opts);
    if (encoding === 'br') return await brotliAsync(bytes, opts);
  } catch (e) {
    const tooBig = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw tooBig
      ? new ConnectError(`decompressed message is larger than the limit of ${maxBytes} bytes`, Code.ResourceExhausted)
      : new ConnectError(`cannot decompress the request (${encoding}): ${(e as Error).message}`, Code.InvalidArgument);
  }
  return null;
}

/** A valid empty request in the given wire format (stands in for a refused body). */
export function emptyRequest(w: Wire): Buffer {
  const payload = w.json ? Buffer.from('{}') : Buffer.alloc(0);
  if (!w.enveloped) return payload;
  const env = Buffer.alloc(ENVELOPE_HEADER_BYTES + payload.length);
  env.writeUInt32BE(payload.length, 1);
  payload.copy(env, ENVELOPE_HEADER_BYTES);
  return w.base64 ? Buffer.from(env.toString('base64'), 'latin1') : env;
}

/**
 * Reads a request body of at most `maxBytes`; null (and reading stops) once it is larger.
 * Rejects if the request fails (client gone).
 */
export function readBodyBounded(req: Readable, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
