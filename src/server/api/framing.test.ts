// framing.ts must answer byte-for-byte like node:http: the same request streams (hostile ones,
// pipelined, split anywhere, half-closed; hand-written and generated) go to a server with the
// framing on and one with it off, and everything each sends back — status lines, headers (Date
// aside), bodies, and whether it closes — must be equal. A framing that answered nothing would pass
// that, so the plain cases also check that the framing did answer them.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { ApiServer } from './server.ts';
import { fakeServer } from './test-util.ts';
import { MAX_FRAMED_HEAD_BYTES } from './framing.ts';
import type { FakeBackendOptions } from './fake-backend.ts';
import type { ApiLimits } from './limits.ts';
import { startApiServer } from './server.ts';
import { FakeBackend } from './fake-backend.ts';
import { AuthTable } from '../../kv/auth.ts';
import { AuthGate } from '../auth/gate.ts';

/** How long a connection must stay silent before what it sent is taken as all of it. */
const QUIET_MS = 400;
const P = '/leasekv.v1.KV/Put';

interface Stream {
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
function exchange(port: number, s: Stream): Promise<string> {
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

function put(body: string, extra = '', head = `POST ${P} HTTP/1.1`): string {
  return `${head}\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}Connection: keep-alive\r\n\r\n${body}`;
}
const PLAIN = put('{"key":"a","value":"x"}');

/** A pair of servers, framing on and off, over fake backends that start the same. */
class Pair {
  on!: { server: ApiServer; port: number };
  off!: { server: ApiServer; port: number };
  constructor(
    private readonly backend: FakeBackendOptions = {},
    private readonly limits: Partial<ApiLimits> = {},
  ) {}
  async start(): Promise<void> {
    const common = { backend: this.backend, limits: this.limits, allowedHosts: ['ok.example'] };
    this.on = await fakeServer({ ...common, http1Framing: true });
    this.off = await fakeServer({ ...common, http1Framing: false });
  }
  async close(): Promise<void> {
    await Promise.all([this.on.server.close(), this.off.server.close()]);
  }
  /** Sends `s` to both; asserts equal answers; returns the answers and how many requests the framing took. */
  async same(name: string, s: Stream): Promise<{ text: string; framed: number }> {
    const before = this.on.server.fastPath?.framed ?? 0;
    const blank = (t: string): string =>
      s.concurrent === true ? t.replace(/"(index|revision|modRevision|version)":"\d+"/g, '"$1":"-"') : t;
    const [on, off] = await Promise.all([exchange(this.on.port, s), exchange(this.off.port, s)]);
    const [a, b] = [blank(on), blank(off)];
    assert.equal(a, b, `${name}: framing on and off answered differently`);
    assert.equal(this.off.server.fastPath?.framed, 0);
    return { text: a, framed: (this.on.server.fastPath?.framed ?? 0) - before };
  }
}

const HAND: readonly (readonly [string, Stream, number?])[] = [
  // [name, stream, requests the framing must take (checked when given)]
  ['plain put', { chunks: [PLAIN] }, 1],
  ['no Connection header', { chunks: [put('{"key":"a","value":"y"}').replace('Connection: keep-alive\r\n', '')] }, 1],
  ['three pipelined in one write', { chunks: [PLAIN + PLAIN + PLAIN] }, 0],
  ['split in the head', { chunks: [PLAIN.slice(0, 20), PLAIN.slice(20)], gapMs: 20 }],
  ['split in the body', { chunks: [PLAIN.slice(0, -5), PLAIN.slice(-5)], gapMs: 20 }],
  ['byte by byte', { chunks: [...PLAIN.slice(0, 40)].concat(PLAIN.slice(40)), gapMs: 1 }],
  [
    'put then a Get',
    { chunks: [PLAIN + put('{"key":"a"}', '', 'POST /leasekv.v1.KV/Get HTTP/1.1')], concurrent: true },
  ],
  ['put then a partial put', { chunks: [PLAIN + PLAIN.slice(0, 30)] }],
  ['put, FIN', { chunks: [PLAIN], fin: true }, 1],
  ['put, partial, FIN', { chunks: [PLAIN + PLAIN.slice(0, 30)], fin: true }],
  ['two puts, FIN', { chunks: [PLAIN + PLAIN], fin: true }, 0],
  [
    'chunked',
    {
      chunks: [
        `POST ${P} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n17\r\n{"key":"a","value":"x"}\r\n0\r\n\r\n`,
      ],
    },
  ],
  ['chunked and a length', { chunks: [put('{"key":"a","value":"x"}', 'transfer-encoding: chunked\r\n')] }],
  ['Expect: 100-continue', { chunks: [put('{"key":"a","value":"x"}', 'expect: 100-continue\r\n')] }],
  ['Connection: close', { chunks: [PLAIN.replace('keep-alive', 'close') + PLAIN] }],
  [
    'Connection: upgrade',
    { chunks: [put('{"key":"a","value":"x"}', 'upgrade: websocket\r\n').replace('keep-alive', 'Upgrade')] },
  ],
  ['HTTP/1.0', { chunks: [put('{"key":"a","value":"x"}', '', `POST ${P} HTTP/1.0`)] }],
  ['lower-case method', { chunks: [put('{"key":"a","value":"x"}', '', `post ${P} HTTP/1.1`)] }],
  ['absolute URI', { chunks: [put('{"key":"a","value":"x"}', '', `POST http://127.0.0.1${P} HTTP/1.1`)] }],
  ['query string', { chunks: [put('{"key":"a","value":"x"}', '', `POST ${P}?x=1 HTTP/1.1`)] }],
  ['two Host headers', { chunks: [put('{"key":"a","value":"x"}', 'Host: 127.0.0.1\r\n')] }],
  ['two Host headers, one foreign', { chunks: [put('{"key":"a","value":"x"}', 'Host: evil.example\r\n')] }],
  ['foreign Host', { chunks: [PLAIN.replace('Host: 127.0.0.1', 'Host: evil.example')] }],
  ['allowed name', { chunks: [PLAIN.replace('Host: 127.0.0.1', 'Host: ok.example:2379')] }, 1],
  ['no Host', { chunks: [PLAIN.replace('Host: 127.0.0.1\r\n', '')] }],
  ['two lengths, equal', { chunks: [put('{"key":"a","value":"x"}', 'content-length: 23\r\n')] }],
  ['two lengths, different', { chunks: [put('{"key":"a","value":"x"}', 'content-length: 2\r\n')] }],
  ['length with a leading zero', { chunks: [PLAIN.replace('content-length: 23', 'content-length: 023')] }],
  ['length with a plus', { chunks: [PLAIN.replace('content-length: 23', 'content-length: +23')] }],
  ['length with spaces', { chunks: [PLAIN.replace('content-length: 23', 'content-length:  23 ')] }],
  ['length 0', { chunks: [put('')] }],
  ['length beyond the body (stalls)', { chunks: [PLAIN.replace('content-length: 23', 'content-length: 40')] }],
  ['trailing space in a value', { chunks: [PLAIN.replace('application/json', 'application/json ')] }],
  ['space before the colon', { chunks: [PLAIN.replace('content-type:', 'content-type :')] }],
  ['obs-fold', { chunks: [PLAIN.replace('content-type: application/json', 'content-type:\r\n application/json')] }],
  ['charset in the type', { chunks: [PLAIN.replace('application/json', 'application/json; charset=utf-8')] }],
  ['other header', { chunks: [put('{"key":"a","value":"x"}', 'user-agent: t\r\n')] }],
  ['timeout header', { chunks: [put('{"key":"a","value":"x"}', 'connect-timeout-ms: 0\r\n')] }],
  ['bare LF', { chunks: [PLAIN.replaceAll('\r\n', '\n')] }],
  ['leading CRLF', { chunks: ['\r\n' + PLAIN] }],
  ['NUL in a value', { chunks: [PLAIN.replace('Host: 127.0.0.1', 'Host: 127.0.0.1\0')] }],
  ['8-bit in a value', { chunks: [PLAIN.replace('Host: 127.0.0.1', 'Host: 127.0.0.1\u00e9')] }],
  ['over-long head', { chunks: [put('{"key":"a","value":"x"}', `x-pad: ${'p'.repeat(MAX_FRAMED_HEAD_BYTES)}\r\n`)] }],
  ['body over maxRequestBytes', { chunks: [put(JSON.stringify({ key: 'a', value: 'v'.repeat(3000) }))] }],
  ['proto field names (to Connect)', { chunks: [put('{"key":"a","value":"x","client_id":"c","seq":1}')] }],
  ['session put', { chunks: [put('{"key":"a","value":"x","clientId":"c","seq":1}')] }, 1],
  ['oversized key', { chunks: [put(JSON.stringify({ key: 'k'.repeat(40), value: '' }))] }],
  ['not JSON', { chunks: [put('{"key":')] }],
  ['duplicate key', { chunks: [put('{"key":"a","value":"x","key":"b"}')] }],
  ['non-ASCII value', { chunks: [put(JSON.stringify({ key: 'é', value: '☃\u2028' }))] }],
  ['lone surrogate (escaped)', { chunks: [put('{"key":"a","value":"\\ud800"}')] }],
  ['invalid UTF-8', { chunks: [put('{"key":"a","value":"\u00ff\u00fe"}')] }],
  ['h2c preface', { chunks: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'] }],
  ['garbage', { chunks: ['\u0016\u0003\u0001hello\r\n\r\n'] }],
  ['twenty pipelined', { chunks: [PLAIN.repeat(20)] }, 0],
  ['one by one', { chunks: [PLAIN, PLAIN, PLAIN], stepwise: true }, 3],
  ['one, then a pipelined pair', { chunks: [PLAIN, PLAIN + PLAIN], stepwise: true }, 1],
  ['put then unknown route', { chunks: [PLAIN + `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`] }],
];

describe('HTTP/1.1 framing answers like node:http', () => {
  const pair = new Pair({}, { maxKeyBytes: 16, maxValueBytes: 64, maxRequestBytes: 2048, headersTimeoutMs: 5000 });
  before(() => pair.start());
  after(() => pair.close());

  for (const [name, stream, framed] of HAND) {
    test(name, async () => {
      const r = await pair.same(name, stream);
      if (framed !== undefined) assert.equal(r.framed, framed, `${name}: the framing took ${r.framed} requests`);
    });
  }

  test('generated request streams, split anywhere', async () => {
    const key = fc.string({ minLength: 0, maxLength: 20 });
    const request = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ k: key, v: key }).map(({ k, v }) => put(JSON.stringify({ key: k, value: v }))),
      },
      fc
        .record({
          k: key,
          name: fc.constantFrom('Host', 'content-type', 'content-length', 'Connection', 'Expect', 'x-a'),
          v: fc.string({ maxLength: 12 }),
        })
        .map(({ k, name, v }) => put(JSON.stringify({ key: k, value: 'v' }), `${name}: ${v}\r\n`)),
      fc
        .tuple(fc.nat(PLAIN.length - 1), fc.string({ minLength: 1, maxLength: 3 }))
        .map(([at, s]) => PLAIN.slice(0, at) + s + PLAIN.slice(at + 1)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.boolean(),
        async (reqs, cuts, fin) => {
          const all = reqs.join('');
          const at = [...new Set(cuts.map((c) => c % all.length))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) => all.slice(from, at[i] ?? all.length)).filter((c) => c !== '');
          await pair.same(JSON.stringify(chunks), { chunks, gapMs: 5, fin });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('HTTP/1.1 framing: backend errors answer like node:http', () => {
  const pair = new Pair({ followerOf: { leaderId: 'n2', leaderClientAddr: 'http://127.0.0.1:2' } });
  before(() => pair.start());
  after(() => pair.close());
  test('not leader, with the leader headers', async () => {
    const r = await pair.same('not leader', { chunks: [PLAIN, PLAIN], stepwise: true });
    assert.equal(r.framed, 2);
    assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*leasekv-leader: n2\r\n/);
  });
});

describe('HTTP/1.1 framing: an idle framed connection', () => {
  const pair = new Pair({}, { idleTimeoutMs: 1000 });
  before(() => pair.start());
  after(() => pair.close());

  /** Sends `n` puts one after another on one connection; resolves with the ms from the last answer to the close. */
  function idleAfter(port: number, n: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      let answers = 0;
      let lastMs = 0;
      sock.on('data', (c: Buffer) => {
        answers += c.toString('latin1').split('HTTP/1.1 200 OK').length - 1;
        lastMs = performance.now();
        if (answers < n) sock.write(PLAIN);
      });
      sock.on('error', reject);
      sock.on('close', () =>
        answers === n ? resolve(performance.now() - lastMs) : reject(new Error(`${answers} answers`)),
      );
      sock.on('connect', () => sock.write(PLAIN));
      setTimeout(() => sock.destroy(new Error('still open after 5 s')), 5000).unref();
    });
  }

  test('is closed after the keep-alive timeout, like node:http, however many requests it carried', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): number => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const before = pair.on.server.fastPath?.framed ?? 0;
      const [on, off] = await Promise.all([idleAfter(pair.on.port, 15), idleAfter(pair.off.port, 15)]);
      assert.equal((pair.on.server.fastPath?.framed ?? 0) - before, 15);
      for (const ms of [on, off]) assert.ok(ms > 800 && ms < 2500, `closed ${ms.toFixed(0)} ms after the last answer`);
      // One timeout listener per connection, not one per request.
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});

test('with an auth gate, a Put is framed only while auth is off', async () => {
  const table = new AuthTable();
  const auth = new AuthGate({
    table: () => table,
    required: false,
    tokenTtlMs: 1000,
    authAttemptsPerSec: 20,
    authAttemptsPerSourcePerSec: 5,
  });
  const server = await startApiServer({ host: '127.0.0.1', port: 0, backend: new FakeBackend(), auth });
  try {
    const off = await exchange(server.port, { chunks: [PLAIN] });
    assert.match(off, /^HTTP\/1\.1 200 OK/);
    assert.equal(server.fastPath?.framed, 1);
    table.apply({ kind: 'enable', root: { salt: 'c2FsdA==', hash: 'aGFzaA==' }, signingKey: 'a2V5' });
    const on = await exchange(server.port, { chunks: [PLAIN] });
    assert.match(on, /^HTTP\/1\.1 401 Unauthorized/);
    assert.equal(server.fastPath?.framed, 1, 'not framed once auth is on');
  } finally {
    await server.close();
  }
});
