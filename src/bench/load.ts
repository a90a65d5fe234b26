// Closed-loop load: C clients, each sending its next request as soon as the last one answers, over
// keep-alive HTTP/1.1 connections (HTTPS when given a CA: one handshake per connection, not per
// request). Latencies go into HdrHistograms (µs), one per operation.
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import hdr from 'hdr-histogram-js';
import { TlsAgent } from '../client/tls-agent.ts';
import type { Histogram } from 'hdr-histogram-js';

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
  readonly agent?: Agent;
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

/** A keep-alive agent for `maxSockets` connections: HTTPS trusting `ca` when given, with the client library's agent. */
export function loadAgent(maxSockets: number, ca?: string): Agent {
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

export async function runLoad(w: Workload): Promise<LoadResult> {
  const host = w.host ?? '127.0.0.1';
  const agent = w.agent ?? loadAgent(w.clients, w.ca);
  const get = newHistogram();
  const put = newHistogram();
  const value = 'v'.repeat(w.valueBytes);
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
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const isRead = rnd() < w.readFraction;
      const key = keyName(Math.floor(rnd() * w.keys));
      const shape = isRead ? w.get(key) : w.put(key, value);
      const t0 = performance.now();
      try {
        const status = await send(agent, host, w.port, shape, w.headers);
        if (status !== 200) throw new Error(`HTTP ${status}`);
        (isRead ? get : put).recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
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
 * Writes every key once (so reads find values), with `concurrency` requests in flight. Given several
 * ports, a failed write moves on to the next one (leadership may change during a long load).
 */
/**
 * The write-only workload the A/B tools share (ab-slices, thread-cpu, api-cost): closed-loop Puts of
 * 100-byte values over 1000 keys on kept-open connections; `get` is never called.
 */
export function runWrites(
  port: number,
  agent: Agent,
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
  const agent = loadAgent(concurrency * candidates.length, ca);
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
