// The fast path's answers (fast-path.ts): written to a ServerResponse, or as the parts of node:http's
// bytes for the same writeHead and end, for framing.ts. Kept side by side so that a change to one is
// made to the other; framing.test.ts compares the bytes.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import type { GetResult, PutResult } from '../backend.ts';
import { READ_MODE_JSON, u32Ms } from './convert.ts';

/**
 * An answer as framing.ts writes it: status, reason phrase, the headers this module sets (after the
 * ones every answer of the port carries) and the body as a latin1 string of its bytes.
 */
export interface RawAnswer {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

export function getJson(g: GetResult): string {
  return (
    `{"found":${g.found},"value":${JSON.stringify(g.value)},"index":"${g.index}","readMode":"${READ_MODE_JSON[g.readMode]}","staleByMs":${u32Ms(g.staleByMs)},` +
    `"revision":"${g.revision}","createRevision":"${g.createRevision}","modRevision":"${g.modRevision}","version":"${g.version}"}`
  );
}

export function putJson(p: PutResult): string {
  return `{"index":"${p.index}","revision":"${p.revision}"}`;
}

/** writeJson's answer, for framing.ts: its UTF-8 bytes as a latin1 string (the same string when `json` is ASCII). */
export function jsonAnswer(json: string): RawAnswer {
  const bytes = Buffer.byteLength(json, 'utf8');
  return {
    status: 200,
    reason: 'OK',
    headers: [
      ['content-type', 'application/json'],
      ['content-length', String(bytes)],
    ],
    body: bytes === json.length ? json : Buffer.from(json, 'utf8').toString('latin1'),
  };
}

/**
 * writeError's answer, for framing.ts: node:http keeps a header set twice at its first place with
 * the last value (the port's own two headers come first, set by server.ts).
 */
export function errorAnswer(err: unknown): RawAnswer {
  const ce = err instanceof ConnectError ? err : new ConnectError('internal error', Code.Internal);
  const out = errorToJsonBytes(ce, {});
  const headers = new Map<string, [string, string]>();
  const set = (k: string, v: string): void => void headers.set(k.toLowerCase(), [k, v]);
  set('content-type', 'application/json');
  ce.metadata.forEach((v, k) => set(k, v));
  set('content-length', String(out.byteLength));
  const status = codeToHttpStatus(ce.code);
  return {
    status,
    reason: STATUS_CODES[status] ?? 'unknown',
    headers: [...headers.values()],
    body: Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('latin1'),
  };
}

export function writeJson(res: ServerResponse, json: string): void {
  const out = Buffer.from(json, 'utf8');
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
  res.end(out);
}

export function writeError(res: ServerResponse, err: unknown): void {
  const ce = err instanceof ConnectError ? err : new ConnectError('internal error', Code.Internal);
  const out = errorToJsonBytes(ce, {});
  const headers: Record<string, string | number> = { 'content-type': 'application/json' };
  ce.metadata.forEach((v, k) => {
    headers[k] = v;
  });
  headers['content-length'] = out.byteLength;
  if (res.headersSent || res.destroyed) return;
  res.writeHead(codeToHttpStatus(ce.code), headers);
  res.end(out);
}
