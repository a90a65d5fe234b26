// framing.ts answers Gets (lease reads) like node:http: missing keys, both consistency modes, keys
// with unusual bytes, bodies it must leave to Connect, not-leader errors (test-framing.ts compares).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cases, exchange, get, GET_A, Pair, PLAIN, put, type Case } from './test-framing.ts';

/** Keys with unusual bytes: controls, quotes, backslashes, 2-, 3- and 4-byte UTF-8, U+2028, a BOM, DEL. */
const ODD_KEYS = [
  '\u0000',
  'a\u0001\u001fb',
  '"q"',
  'back\\slash',
  '/sl/ash/',
  'é',
  '☃\u2028\u2029',
  '😀😀😀😀',
  '\ufeffbom',
  'del\u007f',
  ' sp ',
  '\t\r\n',
  '<script>',
];

const GETS: readonly Case[] = [
  ['get, missing key', { chunks: [get('{"key":"nope"}')] }, 1],
  ['get, linearizable', { chunks: [get('{"key":"a","consistency":"LINEARIZABLE"}')] }, 1],
  ['get, stale', { chunks: [get('{"key":"a","consistency":"STALE"}')] }, 1],
  ['get, consistency first', { chunks: [get('{"consistency":"STALE","key":"a"}')] }, 1],
  ['put then get, one by one', { chunks: [put('{"key":"g1","value":"v1"}'), get('{"key":"g1"}')], stepwise: true }, 2],
  ['get, serializable (no such mode: to Connect)', { chunks: [get('{"key":"a","consistency":"SERIALIZABLE"}')] }, 0],
  ['get, numeric consistency', { chunks: [get('{"key":"a","consistency":1}')] }, 0],
  ['get, null consistency', { chunks: [get('{"key":"a","consistency":null}')] }, 0],
  ['get, no key', { chunks: [get('{}')] }, 0],
  ['get, empty key', { chunks: [get('{"key":""}')] }, 0],
  ['get, key not a string', { chunks: [get('{"key":1}')] }, 0],
  ['get, key of the limit (4 × 4 bytes)', { chunks: [get(JSON.stringify({ key: '😀😀😀😀' }))] }, 1],
  ['get, oversized key', { chunks: [get(JSON.stringify({ key: 'k'.repeat(17) }))] }, 0],
  ['get, oversized multi-byte key', { chunks: [get(JSON.stringify({ key: 'éééééééé\u00e9' }))] }, 0],
  ['get, unknown field', { chunks: [get('{"key":"a","x":1}')] }, 0],
  ['get, duplicate key', { chunks: [get('{"key":"a","key":"b"}')] }, 0],
  ['get, not JSON', { chunks: [get('{"key":')] }, 0],
  ['get, an array', { chunks: [get('["a"]')] }, 0],
  ['get, invalid UTF-8', { chunks: [get('{"key":"ab"}').replace('"ab"', '"\u00ff\u00fe"')] }, 0],
  ['get, lone surrogate (escaped)', { chunks: [get('{"key":"\\ud800"}')] }, 0],
  ['get, escaped key', { chunks: [get('{"key":"\\u0061"}')] }, 1],
  ['get, timeout header', { chunks: [get('{"key":"a"}', 'connect-timeout-ms: 1000\r\n')] }, 0],
  ['get, other header', { chunks: [get('{"key":"a"}', 'accept: */*\r\n')] }, 0],
  ['get, GET method', { chunks: [get('{"key":"a"}').replace('POST', 'GET')] }, 0],
  ['get, body over maxRequestBytes', { chunks: [get(JSON.stringify({ key: 'a', x: 'v'.repeat(3000) }))] }, 0],
  ['get, FIN', { chunks: [GET_A], fin: true }, 1],
  ['get, byte by byte', { chunks: [...GET_A.slice(0, 30)].concat(GET_A.slice(30)), gapMs: 1 }],
  ['get, split in the body', { chunks: [GET_A.slice(0, -3), GET_A.slice(-3)], gapMs: 20 }],
  ['get, then a pipelined pair', { chunks: [GET_A, GET_A + GET_A], stepwise: true }, 1],
  ['gets, one by one', { chunks: [GET_A, GET_A, GET_A], stepwise: true }, 3],
  ['get then a Put (pipelined)', { chunks: [GET_A + PLAIN], concurrent: true }, 0],
  ['get, then a put, then a get', { chunks: [GET_A, PLAIN, GET_A], stepwise: true }, 3],
  ...ODD_KEYS.map(
    (k) =>
      [
        `put then get of ${JSON.stringify(k)}`,
        { chunks: [put(JSON.stringify({ key: k, value: `${k}!` })), get(JSON.stringify({ key: k }))], stepwise: true },
        2,
      ] as const,
  ),
];

describe('HTTP/1.1 framing answers Gets like node:http', () => {
  const pair = new Pair({}, { maxKeyBytes: 16, maxValueBytes: 64, maxRequestBytes: 2048, headersTimeoutMs: 5000 });
  before(() => pair.start());
  after(() => pair.close());
  cases(pair, GETS);
  test('with the framing off, every request goes through node:http', async () => {
    const off = pair.off.server.fastPath!;
    const served = off.served;
    const r = await exchange(pair.off.port, { chunks: [PLAIN, GET_A, GET_A], stepwise: true });
    assert.equal(r.split('HTTP/1.1 200 OK').length - 1, 3);
    assert.equal(off.served - served, 3, 'the fast path answered them');
    assert.equal(off.framed, 0, 'but none without node:http');
  });
});

describe('HTTP/1.1 framing: Gets on a follower answer like node:http', () => {
  const pair = new Pair({ followerOf: { leaderId: 'n2', leaderClientAddr: 'http://127.0.0.1:2' } });
  before(() => pair.start());
  after(() => pair.close());
  test('linearizable: not leader, with the leader headers', async () => {
    const r = await pair.same('not leader', {
      chunks: [GET_A, get('{"key":"zz","consistency":"LINEARIZABLE"}')],
      stepwise: true,
    });
    assert.equal(r.framed, 2);
    assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*leasekv-leader: n2\r\n/);
  });
  test('stale: answered, with how stale', async () => {
    const r = await pair.same('stale', { chunks: [get('{"key":"a","consistency":"STALE"}')] });
    assert.equal(r.framed, 1);
    assert.match(r.text, /"readMode":"READ_MODE_STALE","staleByMs":42/);
  });
});
