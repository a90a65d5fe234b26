// The differential harness of the framing tests (framing*.test.ts): the same request streams go to a
// server with the framing on and one with it off, and what each sends back is compared byte for byte
// (Date's value aside).
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import type { ApiServer } from './server.ts';
import type { FakeBackendOptions } from './fake-backend.ts';
import type { ApiLimits } from './limits.ts';
import { startApiServer } from './server.ts';
import { FakeBackend } from './fake-backend.ts';
import type { AuthGate } from '../auth/gate.ts';

/** How long a connection must stay silent before what it sent is taken as all of it. */
export const QUIET_MS = 400;
export const P = '/leasekv.v1.KV/Put';
export const G = '/leasekv.v1.KV/Get';

export interface Stream {
  readonly chunks: readonly string[];
  /** Pause between chunks (ms). */
  readonly gapMs?: number;
  /** Each chunk after the first is sent once as many answers have begun as chunks were sent (else after gapMs). */
  readonly stepwise?: boolean;
  /** Half-close (FIN) after the last chunk. */
  readonly fin?: boolean;
  /**
   * A request handed to node:http behind framed ones starts once their answers are written, where
   * node:http starts a pipelined request at once: a read behind a write then sees the write (both
   * are answers a linearizable store may give). Such streams compare with revisions blanked.
   */
  readonly concurrent?: boolean;
}

/** Everything the server sent on one connection fed `s`, with the Date header's value blanked, and whether it closed. */
export function exchange(port: number, s: Stream): Promise<string> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, '127.0.0.1');
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (how: string): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got.replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n') + how);
    };
    const quiet = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish('\n[open]'), QUIET_MS);
    };
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      quiet();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => finish('\n[closed]'));
    sock.on('connect', () => {
      void (async () => {
        for (const [i, c] of s.chunks.entries()) {
          if (i > 0 && s.gapMs !== undefined) await new Promise((r) => setTimeout(r, s.gapMs));
          // Bounded by the test's own timeout; answers come within milliseconds on a quiet machine.
          while (s.stepwise === true && got.split('HTTP/1.1 ').length - 1 < i && !sock.destroyed)
            await new Promise((r) => setTimeout(r, 5));
          if (sock.destroyed) return;
          sock.write(c, 'latin1');
        }
        if (s.fin === true) sock.end();
        quiet();
      })();
    });
  });
}

/** A Put as the client library sends it; the body's UTF-8 bytes as a latin1 string (as exchange() sends). */
export function put(body: string, extra = '', head = `POST ${P} HTTP/1.1`): string {
  const bytes = Buffer.from(body, 'utf8').toString('latin1');
  return `${head}\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\n${extra}Connection: keep-alive\r\n\r\n${bytes}`;
}
export const PLAIN = put('{"key":"a","value":"x"}');
/** A Get as the client library sends it (the same four headers). */
export function get(body: string, extra = ''): string {
  return put(body, extra, `POST ${G} HTTP/1.1`);
}
export const GET_A = get('{"key":"a"}');

/** A pair of servers, framing on and off, over fake backends that start the same (and gates that do). */
export class Pair {
  on!: { server: ApiServer; port: number };
  off!: { server: ApiServer; port: number };
  /** What each side's gate logged (auth on): must be equal too. */
  readonly logged = { on: [] as string[], off: [] as string[] };
  constructor(
    private readonly backend: FakeBackendOptions = {},
    private readonly limits: Partial<ApiLimits> = {},
    /** A gate per side, over the same table (each with its own caches and its own log). */
    private readonly gate?: (log: (line: string) => void) => AuthGate,
  ) {}
  async start(): Promise<void> {
    const one = async (framing: boolean, log: string[]): Promise<{ server: ApiServer; port: number }> => {
      const server = await startApiServer({
        host: '127.0.0.1',
        port: 0,
        backend: new FakeBackend({ getQuick: true, ...this.backend }),
        limits: this.limits,
        allowedHosts: ['ok.example'],
        http1Framing: framing,
        ...(this.gate === undefined ? {} : { auth: this.gate((line) => log.push(line)) }),
      });
      return { server, port: server.port };
    };
    this.on = await one(true, this.logged.on);
    this.off = await one(false, this.logged.off);
  }
  async close(): Promise<void> {
    await Promise.all([this.on.server.close(), this.off.server.close()]);
  }
  /** Sends `s` to both; asserts equal answers; returns the answers and how many requests the framing took. */
  async same(name: string, s: Stream): Promise<{ text: string; framed: number }> {
    const before = this.on.server.fastPath?.framed ?? 0;
    const logged = [this.logged.on.length, this.logged.off.length] as const;
    const blank = (t: string): string =>
      s.concurrent === true ? t.replace(/"(index|revision|modRevision|version)":"\d+"/g, '"$1":"-"') : t;
    const [on, off] = await Promise.all([exchange(this.on.port, s), exchange(this.off.port, s)]);
    const [a, b] = [blank(on), blank(off)];
    assert.equal(a, b, `${name}: framing on and off answered differently`);
    assert.equal(this.off.server.fastPath?.framed, 0);
    assert.deepEqual(
      this.logged.on.slice(logged[0]),
      this.logged.off.slice(logged[1]),
      `${name}: the gates logged differently`,
    );
    return { text: a, framed: (this.on.server.fastPath?.framed ?? 0) - before };
  }
}

/** [name, stream, requests the framing must take (checked when given)] */
export type Case = readonly [string, Stream, number?];

/** One test per case: the answers equal, and the framing took as many as said. */
export function cases(pair: Pair, list: readonly Case[]): void {
  for (const [name, stream, framed] of list) {
    test(name, async () => {
      const r = await pair.same(name, stream);
      if (framed !== undefined) assert.equal(r.framed, framed, `${name}: the framing took ${r.framed} requests`);
    });
  }
}
