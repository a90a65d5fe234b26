// framing.ts must answer byte-for-byte like node:http: the same request streams (hostile ones,
// pipelined, split anywhere, half-closed; hand-written and generated) go to a server with the
// framing on and one with it off (test-framing.ts), and everything each sends back — status lines,
// headers (Date aside), bodies, and whether it closes — must be equal. A framing that answered
// nothing would pass that, so the plain cases also check that the framing did answer them. Gets:
// framing-get.test.ts; auth on: framing-auth.test.ts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_FRAMED_HEAD_BYTES } from './framing.ts';
import { cases, get, GET_A, P, Pair, PLAIN, put, type Case } from './test-framing.ts';

const HAND: readonly Case[] = [
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
  ['invalid UTF-8', { chunks: [put('{"key":"a","value":"ab"}').replace('"ab"', '"\u00ff\u00fe"')] }],
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

  cases(pair, HAND);

  test('generated request streams, split anywhere', async () => {
    const key = fc.string({ minLength: 0, maxLength: 20 });
    const consistency = fc.constantFrom(undefined, 'LINEARIZABLE', 'STALE', 'SERIALIZABLE', 'READ_MODE_LEASE');
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
      {
        weight: 3,
        arbitrary: fc
          .record({ k: fc.oneof(key, fc.string({ unit: 'binary', maxLength: 6 })), c: consistency })
          .map(({ k, c }) => get(JSON.stringify(c === undefined ? { key: k } : { key: k, consistency: c }))),
      },
      fc
        .tuple(fc.nat(GET_A.length - 1), fc.string({ minLength: 1, maxLength: 3 }))
        .map(([at, s]) => GET_A.slice(0, at) + s + GET_A.slice(at + 1)),
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
      // Not before the timeout; the upper bound is only the 5 s guard's (a loaded CI machine runs late).
      for (const ms of [on, off]) assert.ok(ms > 800 && ms < 4500, `closed ${ms.toFixed(0)} ms after the last answer`);
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
