// Closed-loop load: C clients, each sending its next request as soon as the last one answers, over
// keep-alive HTTP/1.1 connections (HTTPS when given a CA: one handshake per connection, not per
// request). Latencies go into HdrHistograms (µs), one per operation. Plaintext load goes through the
// lean client (lean-http.ts: node:net, pre-encoded requests, every answer's status and body checked)
// unless node:http is asked for (--load-client node-http, BENCH_LOAD_CLIENT=node-http for the
// stand-alone tools), which reads only the status, as every session before 14 did; HTTPS always
// goes through node:https. Both systems of a run are driven by the same client.
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import hdr from 'hdr-histogram-js';
import { TlsAgent } from '../client/tls-agent.ts';
import type { Histogram } from 'hdr-histogram-js';
import { checkAnswer } from './answers.ts';
import { encodeRequest, LeanPool } from './lean-http.ts';

export const LOAD_CLIENTS = ['lean', 'node-http'] as const;
/** lean: lean-http.ts on node:net; node-http: node:http's request with a keep-alive Agent. */
export type LoadClient = (typeof LOAD_CLIENTS)[number];

function clientFromEnv(): LoadClient {
  const v = process.env['BENCH_LOAD_CLIENT'];
  if (v === undefined || v === '') return 'lean';
  if (!(LOAD_CLIENTS as readonly string[]).includes(v))
    throw new Error(`BENCH_LOAD_CLIENT must be one of ${LOAD_CLIENTS.join(', ')} (not '${v}')`);
  return v as LoadClient;
}

let plaintextClient: LoadClient = clientFromEnv();

/** The client for plaintext load from now on (main.ts: --load-client). */
export function setLoadClient(c: LoadClient): void {
  plaintextClient = c;
}

export function loadClient(): LoadClient {
  return plaintextClient;
}

/** Kept-open connections for closed-loop clients: the lean client's, or node:http's agent. */
export type LoadAgent = Agent | LeanPool;

export interface RequestShape {
  readonly path: string;
  readonly body: string;
}

export interface Workload {
  readonly port: number;
  readonly host?: string;
  readonly clients: number;
  readonly durationMs: number;
  /** Fraction of operations that are reads, 0..1. */
  readonly readFraction: number;
  readonly keys: number;
  readonly valueBytes: number;
  readonly get: (key: string) => RequestShape;
  readonly put: (key: string, value: string) => RequestShape;
  /** Sent with every request (e.g. `authorization` with auth on; --scenario tls). */
  readonly headers?: Readonly<Record<string, string>>;
  /** HTTPS, trusting this CA (PEM), instead of plaintext HTTP. */
  readonly ca?: string;
  /** Connections to reuse (loadAgent; kept open afterwards) instead of new ones for this run. */
  readonly agent?: LoadAgent;
  /** Called about every 250 ms with the fraction done, for a progress bar. */
  readonly onProgress?: (fraction: number) => void;
}

export interface LoadResult {
  readonly get: Histogram;
  readonly put: Histogram;
  readonly errors: number;
  readonly firstError: string;
  readonly elapsedMs: number;
}

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export function keyName(i: number): string {
  return `bench-${i.toString().padStart(8, '0')}`;
}

/**
 * Keep-alive connections for `maxSockets` closed-loop clients: the lean client's for plaintext
 * unless node:http was asked for (setLoadClient), node:https trusting `ca` when given.
 */
export function loadAgent(maxSockets: number, ca?: string): LoadAgent {
  return ca === undefined && plaintextClient === 'lean' ? new LeanPool() : httpAgent(maxSockets, ca);
}

/** A node:http keep-alive agent for `maxSockets` connections: HTTPS trusting `ca` when given, with the client library's agent. */
export function httpAgent(maxSockets: number, ca?: string): Agent {
  return ca === undefined
    ? new Agent({ keepAlive: true, maxSockets })
    : new TlsAgent({ keepAlive: true, maxSockets, ca });
}

export function send(
  agent: Agent,
  host: string,
  port: number,
  shape: RequestShape,
  extra: Readonly<Record<string, string>> = {},
  /** Given the answer's body (only read when asked for). */
  onBody?: (text: string) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (agent instanceof HttpsAgent ? httpsRequest : request)(
      {
        host,
        port,
        path: shape.path,
        method: 'POST',
        agent,
        headers: { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(shape.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (onBody !== undefined) chunks.push(c);
        });
        res.on('end', () => {
          onBody?.(Buffer.concat(chunks).toString('utf8'));
          resolve(res.statusCode ?? 0);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(shape.body);
  });
}

/**
 * One closed-loop client's next request and answer, resolving with the answer's latency in µs (after
 * the answer was checked) or rejecting with why it failed.
 */
type SendOne = (client: number, isRead: boolean, key: number) => Promise<number>;

/** node:http, as in every session before 14: builds the request per call, checks the status only. */
function httpSender(agent: Agent, host: string, w: Workload, value: string): SendOne {
  return async (_client, isRead, k) => {
    const key = keyName(k);
    const shape = isRead ? w.get(key) : w.put(key, value);
    const t0 = performance.now();
    const status = await send(agent, host, w.port, shape, w.headers);
    if (status !== 200) throw new Error(`HTTP ${status}`);
    return Math.max(1, Math.round((performance.now() - t0) * 1000));
  };
}

/** Requests encoded once per key and kept for the run, up to this many keys per operation. */
const ENCODED_KEYS_MAX = 100_000;

/** The lean client: pre-encoded requests, the status and the body's shape checked (answers.ts). */
function leanSender(pool: LeanPool, host: string, w: Workload, value: string): SendOne {
  const headers = w.headers ?? {};
  const encode = (isRead: boolean, k: number): { path: string; bytes: Buffer } => {
    const key = keyName(k);
    const shape = isRead ? w.get(key) : w.put(key, value);
    return { path: shape.path, bytes: encodeRequest(host, w.port, shape.path, shape.body, headers) };
  };
  const cached = [
    new Map<number, { path: string; bytes: Buffer }>(),
    new Map<number, { path: string; bytes: Buffer }>(),
  ];
  return async (client, isRead, k) => {
    const cache = cached[isRead ? 1 : 0] as Map<number, { path: string; bytes: Buffer }>;
    let req = cache.get(k);
    if (req === undefined) {
      req = encode(isRead, k);
      if (k < ENCODED_KEYS_MAX) cache.set(k, req);
    }
    const conn = pool.get(client, host, w.port);
    const t0 = performance.now();
    const r = await conn.request(req.bytes);
    const us = Math.max(1, Math.round((performance.now() - t0) * 1000));
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString('utf8', 0, 120)}`);
    const why = checkAnswer(req.path, r.body.toString('utf8'));
    if (why !== null) throw new Error(why);
    return us;
  };
}

export async function runLoad(w: Workload): Promise<LoadResult> {
  const host = w.host ?? '127.0.0.1';
  const agent = w.agent ?? loadAgent(w.clients, w.ca);
  const get = newHistogram();
  const put = newHistogram();
  const value = 'v'.repeat(w.valueBytes);
  const sendOne = agent instanceof LeanPool ? leanSender(agent, host, w, value) : httpSender(agent, host, w, value);
  let errors = 0;
  let firstError = '';
  const start = performance.now();
  const end = start + w.durationMs;
  const progress =
    w.onProgress === undefined
      ? null
      : setInterval(() => w.onProgress?.(Math.min(1, (performance.now() - start) / w.durationMs)), 250);
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const client = async (_: unknown, i: number): Promise<void> => {
    while (performance.now() < end) {
      const isRead = rnd() < w.readFraction;
      const k = Math.floor(rnd() * w.keys);
      try {
        (isRead ? get : put).recordValue(await sendOne(i, isRead, k));
      } catch (e) {
        errors++;
        if (firstError === '') firstError = (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: w.clients }, client));
  if (progress !== null) clearInterval(progress);
  w.onProgress?.(1);
  if (w.agent === undefined) agent.destroy();
  return { get, put, errors, firstError, elapsedMs: performance.now() - start };
}

/**
 * The write-only workload the A/B tools share (ab-slices, thread-cpu, api-cost): closed-loop Puts of
 * 100-byte values over 1000 keys on kept-open connections; `get` is never called.
 */
export function runWrites(
  port: number,
  agent: LoadAgent,
  clients: number,
  durationMs: number,
  put: Workload['put'],
): Promise<LoadResult> {
  return runLoad({
    port,
    clients,
    durationMs,
    readFraction: 0,
    keys: 1000,
    valueBytes: 100,
    get: () => ({ path: '/', body: '' }),
    put,
    agent,
  });
}

/**
 * Writes every key once (so reads find values), with `concurrency` requests in flight. Given several
 * ports, a failed write moves on to the next one (leadership may change during a long load).
 */
export async function preload(
  ports: number | readonly number[],
  keys: number,
  valueBytes: number,
  put: Workload['put'],
  concurrency = 32,
  headers: Readonly<Record<string, string>> = {},
  ca?: string,
): Promise<void> {
  const candidates = typeof ports === 'number' ? [ports] : ports;
  const agent = httpAgent(concurrency * candidates.length, ca);
  const value = 'v'.repeat(valueBytes);
  let next = 0;
  let current = 0;
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        const port = candidates[current % candidates.length] as number;
        const status = await send(agent, '127.0.0.1', port, put(keyName(i), value), headers).catch(() => 0);
        if (status === 200) break;
        if (attempt > 200) throw new Error(`preload: put ${keyName(i)} keeps failing (HTTP ${status})`);
        if (candidates[current % candidates.length] === port) current++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}
