// A strict HTTP/1.1 framing for the hottest requests, plain JSON Puts and Gets (sessions 13–14,
// issue 16). On the leader's client API thread node:http's own work — llhttp's callbacks into
// JavaScript, the IncomingMessage and ServerResponse streams, header objects, the answer's writev —
// was about two thirds of the thread's CPU per write (docs/benchmarks.md, "Write path, session 13").
//
// A plaintext HTTP/1.1 connection is read here first. A request is answered here only when it is
// recognised in full: the exact request line `POST /leasekv.v1.KV/Put HTTP/1.1` or `… /Get …`, no
// header but Host, Content-Type `application/json`, Content-Length, `Connection: keep-alive` and
// Authorization (each at most once, in the form `name: value` with printable ASCII values and no
// space at either end — then the value is node:http's), a whole body already received, a Host this
// node answers to, nothing refused by admission or the unsent-answers bound, and a body the fast
// path takes as a plain Put or Get (FastPath.frameable). The caller is then identified by the same
// gate call as node:http's path makes (AuthGate.identify with the header's value and the
// connection's ClientSecurity), so auth on or off, a token good, bad, expired or missing, a role
// without the permission, are answered alike. At the first byte of anything else — any
// other method, path, version or header, chunked bodies, Expect, Upgrade, a partial request, an
// over-long head — the connection is handed to node:http with every byte not yet answered, once
// the answers owed have been written, and stays there: node:http then answers exactly as it
// always did. The answers written here are node:http's own bytes for the same request (the same
// headers in the same order, Date and Keep-Alive included); framing.test.ts checks that against
// node:http on a corpus of request streams. --http1-framing off (config.ts) turns it off.
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnShare } from './core.ts';
import type { ApiCore } from './core.ts';
import { GET_PATH, PUT_PATH, type FastPath } from './fast-path.ts';
import { securityOfSocket } from './client-security.ts';
import type { RawAnswer } from './fast-answers.ts';
import type { HostCheck } from './host-check.ts';
import type { ReadTurns } from './read-turns.ts';
import type { UnsentAnswers } from './unsent-answers.ts';

/**
 * On every answer of the client port, in this order (server.ts sets them first on each request;
 * session 12 audit: no sniffing, no caching of key data).
 */
export const PORT_HEADERS: readonly (readonly [string, string])[] = [
  ['x-content-type-options', 'nosniff'],
  ['cache-control', 'no-store'],
];
const PORT_HEAD = PORT_HEADERS.map(([k, v]) => `${k}: ${v}\r\n`).join('');

/** A head longer than this is not looked at here (node:http takes it, with its own limits). */
export const MAX_FRAMED_HEAD_BYTES = 1024;

const PUT_LINE = `POST ${PUT_PATH} HTTP/1.1`;
const GET_LINE = `POST ${GET_PATH} HTTP/1.1`;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
/** A header value as taken here: printable ASCII, no leading or trailing space (node:http trims; not taken). */
const VALUE_RE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const LENGTH_RE = /^(?:0|[1-9]\d{0,8})$/;

export interface FramingOptions {
  readonly http1: HttpServer;
  readonly core: ApiCore;
  readonly fast: FastPath;
  readonly turns: ReadTurns;
  readonly unsent: UnsentAnswers;
  readonly hosts: HostCheck | undefined;
}

/** Takes a plaintext HTTP/1.1 connection (its first bytes already read); hands it to node:http when it must. */
export type Framing = (socket: Socket, first: Buffer) => void;

export function http1Framing(opts: FramingOptions): Framing {
  const date = utcDate();
  return (socket, first) => new Framed(socket, first, opts, date).start();
}

/** node:http's Date value: the time to the second, computed at most once a second (its utcDate). */
function utcDate(): () => string {
  let cached = '';
  let atMs = -Infinity;
  return () => {
    const now = Date.now();
    if (now - atMs >= 1000 || now < atMs) {
      cached = new Date(now).toUTCString();
      atMs = now - (now % 1000);
    }
    return cached;
  };
}

/** One connection while it is framed here. */
class Framed {
  #buf: Buffer;
  /** Answers in request order; null: not yet answered. */
  #slots: (string | null)[] = [];
  #head = 0;
  #pending = 0;
  /** Something not taken here arrived: the connection goes to node:http once nothing is owed. */
  #leaving = false;
  #gone = false;
  /** The client half-closed (allowHalfOpen): the answers owed are written, then our side ends. */
  #ended = false;
  readonly #share: ConnShare;
  readonly #onData = (c: Buffer): void => this.#data(c);
  readonly #onEnd = (): void => this.#end();
  /** node:http's keep-alive timeout: an idle connection is closed (one listener, re-armed by setTimeout). */
  readonly #onTimeout = (): void => void this.socket.destroy();

  constructor(
    private readonly socket: Socket,
    first: Buffer,
    private readonly opts: FramingOptions,
    private readonly date: () => string,
  ) {
    this.#buf = first;
    this.#share = { inFlight: 0, source: socket.remoteAddress ?? '' };
  }

  start(): void {
    this.socket.on('data', this.#onData);
    this.socket.on('end', this.#onEnd);
    this.socket.on('timeout', this.#onTimeout);
    this.#parse();
  }

  #data(c: Buffer): void {
    this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c]);
    // Waiting to hand over: what arrives meanwhile is kept for node:http, but not without bound
    // (read-turns.ts may resume the socket: then one more read at most).
    if (this.#leaving && this.#buf.length > MAX_FRAMED_HEAD_BYTES + this.opts.core.limits.maxRequestBytes)
      this.socket.pause();
    // node:http stops its keep-alive timer when bytes arrive (the next request has begun).
    this.socket.setTimeout(0);
    if (!this.#leaving) this.#parse();
  }

  #end(): void {
    this.#ended = true;
    if (this.#leaving) return;
    if (this.#buf.length > 0) return this.#leave();
    if (this.#pending === 0) this.socket.end();
  }

  /**
   * Answers the buffer if it is exactly one whole recognised request and nothing is owed; else
   * leaves. So a framed connection has at most one request in flight, and what a request sees
   * (admission, the unsent bound, the store) is what it would see under node:http: pipelined
   * requests — which node:http handles concurrently, in one read — go to node:http, all of them.
   */
  #parse(): void {
    if (this.#buf.length === 0) return;
    if (this.#pending > 0 || !this.#one()) this.#leave();
  }

  /** Takes the buffer as one request if it is one recognised in full (and answers it); false otherwise. */
  #one(): boolean {
    const buf = this.#buf;
    const end = buf.indexOf(HEAD_END);
    if (end < 0 || end > MAX_FRAMED_HEAD_BYTES) return false;
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const path = lines[0] === PUT_LINE ? PUT_PATH : lines[0] === GET_LINE ? GET_PATH : undefined;
    if (path === undefined) return false;
    let host: string | undefined;
    let length: number | undefined;
    let authorization: string | undefined;
    let type = false;
    let keepAlive = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(': ');
      if (colon <= 0) return false;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 2);
      if (!VALUE_RE.test(value)) return false;
      if (name === 'host' && host === undefined) host = value;
      else if (name === 'content-length' && length === undefined && LENGTH_RE.test(value)) length = Number(value);
      else if (name === 'content-type' && !type && value === 'application/json') type = true;
      else if (name === 'connection' && !keepAlive && value.toLowerCase() === 'keep-alive') keepAlive = true;
      else if (name === 'authorization' && authorization === undefined) authorization = value;
      else return false;
    }
    const o = this.opts;
    if (host === undefined || length === undefined || !type) return false;
    if (length > o.core.limits.maxRequestBytes || buf.length !== end + 4 + length) return false;
    if (o.hosts !== undefined && !o.hosts.allows(host)) return false;
    if (o.unsent.refuses(this.#share.source) || o.core.admission.refusal(this.#share) !== null) return false;
    const f = o.fast.frameable(path, buf.subarray(end + 4));
    if (f === undefined) return false;
    // Charged like every request node:http reads (read-turns.ts), before any work on it.
    o.turns.charge(this.#share.source);
    const slot = this.#slots.length;
    this.#slots.push(null);
    this.#pending++;
    this.#buf = EMPTY;
    o.fast.answerRaw(f, authorization, securityOfSocket(this.socket), this.#share, (a) => this.#answered(slot, a));
    return true;
  }

  #answered(slot: number, a: RawAnswer): void {
    this.#pending--;
    if (this.#gone || this.socket.destroyed) return;
    this.#slots[slot] = this.#bytes(a);
    let out = '';
    while (this.#head < this.#slots.length && this.#slots[this.#head] !== null) out += this.#slots[this.#head++]!;
    if (this.#head === this.#slots.length) {
      this.#slots = [];
      this.#head = 0;
    }
    if (out.length > 0) {
      this.socket.write(out, 'latin1');
      this.opts.unsent.writtenRaw(this.socket);
    }
    if (this.#pending > 0) return;
    if (this.#leaving) return this.#handOver();
    if (this.#ended) return void this.socket.end();
    // Idle: node:http's keep-alive timeout.
    const keepAliveMs = this.opts.http1.keepAliveTimeout;
    if (keepAliveMs > 0 && this.#buf.length === 0) this.socket.setTimeout(keepAliveMs);
  }

  /** node:http's answer head for `a` (its status line, our headers in the order they are set, then its own). */
  #bytes(a: RawAnswer): string {
    let s = `HTTP/1.1 ${a.status} ${a.reason}\r\n${PORT_HEAD}`;
    for (const [k, v] of a.headers) s += `${k}: ${v}\r\n`;
    s += `Date: ${this.date()}\r\nConnection: keep-alive\r\n`;
    const keepAliveMs = this.opts.http1.keepAliveTimeout;
    if (keepAliveMs > 0) s += `Keep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n`;
    return `${s}\r\n${a.body}`;
  }

  #leave(): void {
    this.#leaving = true;
    if (this.#pending === 0) this.#handOver();
  }

  /** To node:http, with every byte not answered here; from now on it is node:http's connection. */
  #handOver(): void {
    if (this.#gone) return;
    this.#gone = true;
    const s = this.socket;
    s.off('data', this.#onData).off('end', this.#onEnd).off('timeout', this.#onTimeout);
    s.setTimeout(0);
    if (s.destroyed) return;
    if (this.#buf.length > 0) s.unshift(this.#buf);
    this.opts.http1.emit('connection', s);
    // The client's FIN came while the connection was here: node:http is told as if it read it.
    if (this.#ended) s.emit('end');
  }
}
