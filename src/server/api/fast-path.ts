// A hand-rolled HTTP/1.1 path for the hottest JSON routes, POST /leasekv.v1.KV/Get and /Put
// (measured on a 2-core machine: the RPC layer, not consensus, limits reads; Connect JSON costs
// ~0.4 ms of server CPU per request, a bare node:http handler several times less).
//
// Wire compatibility with Connect is by construction: the fast path only answers requests whose
// JSON has exactly the plain shape (known fields, plain types, strings without lone surrogates, no
// compression, a valid non-zero timeout header); anything else — unknown fields, numeric enums, null, proto field names mixed with JSON
// names — is handed, already parsed (the body is parsed once, issue 13), to the Connect handler for
// the same method, which answers it exactly as it would have. Bodies that do not parse are refused
// here with the message Connect (protobuf-es) gives. Errors are serialized by Connect's own
// errorToJsonBytes/codeToHttpStatus, and answers use the field order and spellings of protobuf JSON
// with alwaysEmitImplicit. fast-path.test.ts checks byte equality against the Connect path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createConnectRouter,
  type ConnectRouterOptions,
  type ConnectRouter,
  createContextValues,
} from '@connectrpc/connect';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import { GetRequestSchema, PutRequestSchema } from '../../gen/leasekv/v1/kv_pb.ts';
import type { PutRequest } from '../backend.ts';
import { CONN_SHARE, type ApiCore, type ConnShare } from './core.ts';
import { findDuplicateKey, JsonBodyError, scanJsonBody, utf8Text } from './json-guard.ts';
import { toGet } from './validate.ts';
import { isPlainObject, plainGet, plainPut, type Framable, type PlainGet } from './fast-shapes.ts';
import { callerOfRequest } from './authz.ts';
import { allowKey, type Connection, type Identity } from '../auth/gate.ts';
import { CLIENT_SECURITY, clientSecurityOf } from './client-security.ts';
import { clampTimeoutHeaders } from './timeout-header.ts';
import type { UnsentAnswers } from './unsent-answers.ts';
import { errorAnswer, getJson, jsonAnswer, putJson, writeError, writeJson, type RawAnswer } from './fast-answers.ts';

export const GET_PATH = '/leasekv.v1.KV/Get';
export const PUT_PATH = '/leasekv.v1.KV/Put';
const GET_TYPE = GetRequestSchema.typeName;
const PUT_TYPE = PutRequestSchema.typeName;
const JSON_CONTENT_TYPE = /^application\/json(?:; ?charset=utf-?8)?$/i;
const TIMEOUT_RE = /^\d{1,10}$/;

type FallbackOptions = ConnectRouterOptions & { readonly routes: (router: ConnectRouter) => void };

export class FastPath {
  /** Connect's own handlers for the fast routes, for the requests the fast path declines. */
  readonly #fallback = new Map<string, UniversalHandler>();
  /** Requests answered by the fast path, and handed to Connect (for tests and metrics). */
  served = 0;
  declined = 0;
  /** Of those served, answered through framing.ts (putRaw) without node:http. */
  framed = 0;

  constructor(
    private readonly core: ApiCore,
    connectOptions: FallbackOptions,
    /** Answers not read by their clients (unsent-answers.ts): told of each answer as it is written. */
    private readonly unsent?: Pick<UnsentAnswers, 'track' | 'written'>,
  ) {
    const router = createConnectRouter(connectOptions);
    connectOptions.routes(router);
    for (const h of router.handlers) {
      if (h.requestPath === GET_PATH || h.requestPath === PUT_PATH) this.#fallback.set(h.requestPath, h);
    }
  }

  accepts(req: IncomingMessage, path: string): boolean {
    if (req.method !== 'POST' || (path !== GET_PATH && path !== PUT_PATH)) return false;
    const ct = req.headers['content-type'];
    const enc = req.headers['content-encoding'];
    return ct !== undefined && JSON_CONTENT_TYPE.test(ct) && (enc === undefined || enc === 'identity');
  }

  /** Takes the request (accepts() said yes): reads the body once, bounded, and answers it. */
  serve(req: IncomingMessage, res: ServerResponse, path: string, conn: ConnShare): void {
    const max = this.core.limits.maxRequestBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      chunks.push(c);
      if (size <= max) return;
      // Too large (no Content-Length said so up front): refused, and the rest is not read.
      req.off('data', onData).off('end', onEnd);
      req.pause();
      res.setHeader('connection', 'close');
      writeError(
        res,
        new ConnectError(`request body is larger than the limit of ${max} bytes`, Code.ResourceExhausted),
      );
    };
    const onEnd = (): void => {
      this.#answer(req, res, path, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), conn);
    };
    req.on('data', onData).on('end', onEnd);
  }

  #answer(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer, conn: ConnShare): void {
    const timeoutHeader = req.headers['connect-timeout-ms'] as string | undefined;
    const timeoutMs = timeoutHeader === undefined ? undefined : Number(timeoutHeader);
    // A deadline of 0 has passed before any work: Connect answers deadline_exceeded without calling
    // the handler, where the fast path answered a lease read 200 and applied a Put (session 9 audit).
    if (timeoutHeader !== undefined && (!TIMEOUT_RE.test(timeoutHeader) || timeoutMs === 0))
      return this.#decline(req, res, path, body, undefined, conn);
    const typeName = path === GET_PATH ? GET_TYPE : PUT_TYPE;
    // The body is parsed once, here, on every path: a body that is not plain goes to Connect already
    // parsed. Before parsing, the same checks as Connect's JSON decoder (json-guard.ts); after, the
    // duplicate-key check protobuf-es makes on the text (JSON.parse silently keeps the last one).
    let parsed: unknown;
    try {
      const keys = scanJsonBody(body, this.core.limits.maxJsonDepth);
      const text = utf8Text(body);
      parsed = JSON.parse(text);
      if (isPlainObject(parsed) && Object.keys(parsed).length !== keys) {
        const dup = findDuplicateKey(text);
        if (dup !== undefined)
          throw new JsonBodyError(`cannot decode message ${typeName} from JSON: duplicate object key "${dup}"`);
      }
    } catch (e) {
      const message =
        e instanceof JsonBodyError ? e.message : `cannot decode message ${typeName} from JSON: ${(e as Error).message}`;
      writeError(res, new ConnectError(message, Code.InvalidArgument));
      return;
    }
    const plain = path === GET_PATH ? plainGet(parsed) : undefined;
    // Auth (issue 15) before any read or write: the token is a cache lookup (auth/gate.ts).
    let id: Identity | null = null;
    try {
      id = callerOfRequest(this.core.auth, req);
      // An empty or missing key is refused as invalid_argument below, like Connect does.
      if (plain?.key !== undefined && plain.key !== '') allowKey(id, plain.key, false);
    } catch (err) {
      writeError(res, err);
      return;
    }
    if (plain !== undefined) {
      // A read answerable at once (lease or stale) skips deadlines, abort signals and promises
      // (and the connection share: it is answered before this connection can send anything else).
      const now = this.#getNow(plain);
      if (now !== null) {
        this.served++;
        this.#json(res, now);
        return;
      }
      if (this.#getQuick(plain, res, timeoutMs, conn)) return;
    }
    if (path === PUT_PATH && this.core.backend.putQuick !== undefined)
      return this.#putQuick(req, res, parsed, timeoutMs, conn, id);
    const ctrl = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) ctrl.abort();
    };
    res.once('close', onClose);
    let work: Promise<string> | undefined;
    try {
      if (path === GET_PATH) work = plain === undefined ? undefined : this.#get(plain, ctrl.signal, timeoutMs, conn);
      else work = this.#put(parsed, ctrl.signal, timeoutMs, conn, id);
    } catch (err) {
      writeError(res, err);
      return;
    }
    if (work === undefined) {
      res.off('close', onClose);
      return this.#decline(req, res, path, undefined, parsed, conn);
    }
    this.served++;
    work.then(
      (json) => this.#json(res, json),
      (err: unknown) => writeError(res, err),
    );
  }

  /**
   * For framing.ts: the Put or Get of a body the fast path would serve as plain, checked (valid
   * key, value and session), with nothing done; undefined for any other body, or when the backend
   * could not answer it without a deadline timer of ours (then node:http and #answer take the
   * request and answer it, error or not). Auth is not looked at here: answerRaw does it, as #answer.
   */
  frameable(path: string, body: Buffer): Framable | undefined {
    const backend = this.core.backend;
    const isGet = path === GET_PATH;
    // A Get without getQuick would need #get's abort signal and timer when getNow cannot answer.
    if (isGet ? backend.getQuick === undefined : backend.putQuick === undefined) return undefined;
    try {
      const keys = scanJsonBody(body, this.core.limits.maxJsonDepth);
      const parsed: unknown = JSON.parse(utf8Text(body));
      if (!isPlainObject(parsed) || Object.keys(parsed).length !== keys) return undefined;
      if (!isGet) {
        const put = this.#putRequest(parsed, null);
        return put === undefined ? undefined : { kind: 'put', r: put };
      }
      const g = plainGet(parsed);
      if (g === undefined || g.key === undefined) return undefined;
      return { kind: 'get', r: toGet({ key: g.key, consistency: g.consistency }, this.core.limits) };
    } catch {
      return undefined;
    }
  }

  /**
   * For framing.ts: a frameable() request answered as #answer would for the same request with no
   * timeout header (the node's deadline): the caller from the same gate (auth off: null) and the
   * same key check, then getNow, getQuick or putQuick. `reply` gets the answer once, possibly before
   * this returns (an error of the gate, or a read getNow answers).
   */
  answerRaw(
    f: Framable,
    authorization: string | undefined,
    caller: Connection,
    conn: ConnShare,
    reply: (a: RawAnswer) => void,
  ): void {
    this.framed++;
    try {
      const auth = this.core.auth;
      const id = auth === undefined ? null : auth.identify(authorization, caller);
      allowKey(id, f.r.key, f.kind === 'put');
    } catch (err) {
      return reply(errorAnswer(err));
    }
    const backend = this.core.backend;
    const deadlineMs = this.core.limits.requestDeadlineMs;
    this.served++;
    if (f.kind === 'put') {
      const r = f.r;
      this.core
        .callQuick(() => backend.putQuick!(r, deadlineMs), conn)
        .then(
          (p) => reply(jsonAnswer(putJson(p))),
          (err: unknown) => reply(errorAnswer(err)),
        );
      return;
    }
    const r = f.r;
    const now = backend.getNow?.(r) ?? null;
    if (now !== null) return reply(jsonAnswer(getJson(now)));
    this.core
      .callQuick(() => backend.getQuick!(r, deadlineMs), conn)
      .then(
        (g) => reply(jsonAnswer(getJson(g))),
        (err: unknown) => reply(errorAnswer(err)),
      );
  }

  /** The answer JSON if the backend can answer at once; null otherwise (including any doubt about the input). */
  #getNow(g: PlainGet): string | null {
    const backend = this.core.backend;
    const key = g.key;
    if (backend.getNow === undefined || key === undefined || key === '') return null;
    if (Buffer.byteLength(key) > this.core.limits.maxKeyBytes) return null;
    const r = backend.getNow({ key, consistency: g.consistency });
    return r === null ? null : getJson(r);
  }

  /**
   * A node on another thread (api-thread/): the Get goes there with its deadline and no abort
   * signal; the node answers a lease read at once. False: the backend has no such path.
   */
  #getQuick(g: PlainGet, res: ServerResponse, timeoutMs: number | undefined, conn: ConnShare): boolean {
    const backend = this.core.backend;
    if (backend.getQuick === undefined) return false;
    let r;
    try {
      r = toGet({ key: g.key ?? '', consistency: g.consistency }, this.core.limits);
    } catch (err) {
      writeError(res, err);
      return true;
    }
    const deadlineMs = Math.min(timeoutMs ?? Number.MAX_SAFE_INTEGER, this.core.limits.requestDeadlineMs);
    this.served++;
    this.core
      .callQuick(() => backend.getQuick!(r, deadlineMs), conn)
      .then(
        (got) => this.#json(res, getJson(got)),
        (err: unknown) => writeError(res, err),
      );
    return true;
  }

  /** Throws ConnectError for invalid input (same check as Connect's path). */
  #get(g: PlainGet, signal: AbortSignal, timeoutMs: number | undefined, conn: ConnShare): Promise<string> {
    const r = toGet({ key: g.key ?? '', consistency: g.consistency }, this.core.limits);
    const backend = this.core.backend;
    return this.core.call(signal, timeoutMs, (s) => backend.get(r, s), conn).then(getJson);
  }

  /**
   * A write to a node on another thread (KvBackend.putQuick), which applies the deadline itself: no
   * abort signal, timer, close listener or race per request here (issue 16). A client that goes away
   * does not cancel the write (an abort never could: the entry may already be proposed); its answer
   * is dropped.
   */
  #putQuick(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    timeoutMs: number | undefined,
    conn: ConnShare,
    id: Identity | null,
  ): void {
    let r: PutRequest | undefined;
    try {
      r = this.#putRequest(body, id);
    } catch (err) {
      writeError(res, err);
      return;
    }
    if (r === undefined) return this.#decline(req, res, PUT_PATH, undefined, body, conn);
    const backend = this.core.backend;
    const deadlineMs = Math.min(timeoutMs ?? Number.MAX_SAFE_INTEGER, this.core.limits.requestDeadlineMs);
    this.served++;
    const put = r;
    this.core
      .callQuick(() => backend.putQuick!(put, deadlineMs), conn)
      .then(
        (p) => this.#json(res, putJson(p)),
        (err: unknown) => writeError(res, err),
      );
  }

  #put(
    body: unknown,
    signal: AbortSignal,
    timeoutMs: number | undefined,
    conn: ConnShare,
    id: Identity | null,
  ): Promise<string> | undefined {
    const r = this.#putRequest(body, id);
    if (r === undefined) return undefined;
    const backend = this.core.backend;
    return this.core.call(signal, timeoutMs, (s) => backend.put(r, s), conn).then(putJson);
  }

  /** A Put body of exactly the plain shape, checked (throws ConnectError), or undefined (then Connect answers it). */
  #putRequest(body: unknown, id: Identity | null): PutRequest | undefined {
    const r = plainPut(body, this.core.limits);
    if (r !== undefined) allowKey(id, r.key, true);
    return r;
  }

  /** A success answer; watched further only if some of it is still waiting to be sent (unsent-answers.ts). */
  #json(res: ServerResponse, json: string): void {
    writeJson(res, json);
    this.unsent?.written(res);
  }

  /** Hands the request to Connect's handler for the same method: with the raw body, or already parsed. */
  #decline(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer | undefined,
    parsed: unknown,
    conn: ConnShare,
  ): void {
    this.declined++;
    // Connect waits for 'drain' inside its write: watched from now on, like every Connect answer.
    this.unsent?.track(req, res);
    const values = createContextValues().set(CONN_SHARE, conn).set(CLIENT_SECURITY, clientSecurityOf(req));
    const handler = this.#fallback.get(path);
    if (handler === undefined) throw new Error(`fast path: no Connect handler for ${path}`);
    const uReq = universalRequestFromNodeRequest(
      req,
      res,
      body === undefined ? (parsed as JsonValue) : undefined,
      values,
    );
    clampTimeoutHeaders(uReq.header);
    const req2 =
      body === undefined
        ? uReq
        : {
            ...uReq,
            body: (async function* () {
              yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
            })(),
          };
    handler(req2)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch(() => res.destroy());
  }
}
