// The benchmark's lean HTTP/1.1 client: one keep-alive connection on node:net per closed-loop
// client, one request at a time, each request written as one pre-encoded buffer and its answer read
// by a small parser (http-response.ts). It exists because the load generator shares the machine's two
// cores with the servers it measures: node:http's request and answer machinery (ClientRequest,
// IncomingMessage, streams, header objects) cost the generator ~110–190 µs per write, taken from
// both servers alike (docs/benchmarks.md, "Benchmark client, session 14"). The bytes sent are those
// node:http sends for the same request (same headers, same order, one write), so a server sees no
// difference — leasekv's strict framing of plain Puts (src/server/api/framing.ts) takes them alike.
import { connect, type Socket } from 'node:net';
import { HttpParseError, ResponseParser, type Response } from './http-response.ts';

/**
 * The bytes of `POST path` with a JSON body, as node:http writes them for
 * `request({ method: 'POST', headers: { ...extra, content-type, content-length }, agent: keep-alive })`.
 */
export function encodeRequest(
  host: string,
  port: number,
  path: string,
  body: string,
  extra: Readonly<Record<string, string>> = {},
): Buffer {
  let head = `POST ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(extra)) head += `${k}: ${v}\r\n`;
  head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  head += `Host: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`;
  return Buffer.from(head + body, 'utf8');
}

interface Pending {
  readonly resolve: (r: Response) => void;
  readonly reject: (e: Error) => void;
}

/**
 * One keep-alive connection to host:port, opened on the first request and again after the server
 * closes it (between requests: its keep-alive timeout, or `Connection: close`). A request under way
 * when the connection fails or closes is rejected, not retried (the load counts it as an error, as
 * with node:http's agent).
 */
export class LeanConnection {
  private socket: Socket | null = null;
  private parser = new ResponseParser();
  private pending: Pending | null = null;
  private lastError: Error | null = null;
  /** Connections opened so far (1 + reconnections), for the tests and the curious. */
  opened = 0;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  /** True while a connection is open (the next request goes on it). */
  get connected(): boolean {
    return this.socket !== null;
  }

  /** Sends one whole request (encodeRequest's bytes) and resolves with its answer. */
  request(bytes: Buffer): Promise<Response> {
    if (this.pending !== null) return Promise.reject(new Error('lean-http: a request is already under way'));
    const s = this.socket ?? this.open();
    return new Promise<Response>((resolve, reject) => {
      this.pending = { resolve, reject };
      s.write(bytes);
    });
  }

  /** Closes the connection; a request under way is rejected. */
  close(): void {
    this.socket?.destroy();
  }

  private open(): Socket {
    const s = connect({ host: this.host, port: this.port, noDelay: true });
    this.opened++;
    this.socket = s;
    this.parser = new ResponseParser();
    this.lastError = null;
    s.on('data', (chunk: Buffer) => this.onData(s, chunk));
    s.on('error', (e) => {
      if (this.socket === s) this.lastError = e;
    });
    // The server closed an idle connection (its keep-alive timeout): the next request opens another.
    s.on('end', () => {
      if (this.socket === s && this.pending === null) this.drop(s);
    });
    s.on('close', () => this.onClose(s));
    return s;
  }

  private onData(s: Socket, chunk: Buffer): void {
    if (this.socket !== s) return;
    let r: Response | null;
    try {
      if (this.pending === null) throw new HttpParseError('bytes from the server with no request under way');
      r = this.parser.push(chunk);
      if (r !== null && this.parser.leftover > 0) throw new HttpParseError('bytes after the answer (none was asked)');
    } catch (e) {
      this.fail(s, e as Error);
      return;
    }
    if (r === null) return;
    const p = this.pending as Pending;
    this.pending = null;
    if (!r.keepAlive) this.drop(s);
    p.resolve(r);
  }

  private onClose(s: Socket): void {
    if (this.socket !== s) return;
    this.socket = null;
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    let r: Response | null;
    try {
      r = this.parser.end();
    } catch (e) {
      p.reject(e as Error);
      return;
    }
    if (r !== null) p.resolve(r);
    else p.reject(this.lastError ?? new Error('lean-http: connection closed before the answer'));
  }

  /** A protocol error: the request under way fails and the connection is closed (never reused). */
  private fail(s: Socket, e: Error): void {
    const p = this.pending;
    this.pending = null;
    this.drop(s);
    p?.reject(e);
  }

  private drop(s: Socket): void {
    if (this.socket === s) this.socket = null;
    s.destroy();
  }
}

/**
 * Connections kept open across runs (like a keep-alive agent): `get(i, …)` is closed-loop client i's,
 * reopened to another host:port when the target moves (a new leader).
 */
export class LeanPool {
  private readonly conns: (LeanConnection | undefined)[] = [];

  get(i: number, host: string, port: number): LeanConnection {
    const c = this.conns[i];
    if (c !== undefined && c.host === host && c.port === port) return c;
    c?.close();
    const fresh = new LeanConnection(host, port);
    this.conns[i] = fresh;
    return fresh;
  }

  destroy(): void {
    for (const c of this.conns) c?.close();
    this.conns.length = 0;
  }
}
