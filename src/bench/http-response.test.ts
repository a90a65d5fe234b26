// The lean client's response parser fed by hand: whole answers, byte by byte, chunked, interim
// answers, bodies framed by the close, and the answers it must refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpParseError, ResponseParser, type Response } from './http-response.ts';

/** Feeds `text` in pieces of `step` bytes; returns every response completed, in order. */
function feed(p: ResponseParser, text: string, step: number): Response[] {
  const bytes = Buffer.from(text, 'latin1');
  const out: Response[] = [];
  for (let i = 0; i < bytes.length; i += step) {
    let r = p.push(bytes.subarray(i, i + step));
    // Bytes after a whole answer stay in the parser for the next one.
    while (r !== null) {
      out.push(r);
      r = p.leftover > 0 ? p.push(Buffer.alloc(0)) : null;
    }
  }
  return out;
}

const ETCD_PUT =
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nGrpc-Metadata-Content-Type: application/grpc\r\n' +
  'Date: Thu, 03 Dec 2026 13:58:55 GMT\r\nContent-Length: 114\r\n\r\n' +
  '{"header":{"cluster_id":"11452118543399942961","member_id":"11933505683182773386","revision":"2","raft_term":"2"}}';
const CHUNKED =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5\r\n{"ind\r\n' +
  '9;name=x\r\nex":"12"}\r\n' +
  '0\r\nX-Trailer: 1\r\n\r\n';

test('a Content-Length answer, whole or byte by byte, and the next one on the same parser', () => {
  for (const step of [10_000, 1, 3, 7]) {
    const p = new ResponseParser();
    const [a, b, ...rest] = feed(p, ETCD_PUT + ETCD_PUT, step);
    assert.equal(rest.length, 0);
    for (const r of [a, b]) {
      assert.equal(r?.status, 200);
      assert.equal(r?.keepAlive, true);
      assert.equal(r?.body.length, 114);
      assert.match(r?.body.toString() ?? '', /"revision":"2"/);
    }
    assert.equal(p.midResponse, false);
  }
});

test('a chunked answer, with an extension and a trailer, split anywhere', () => {
  for (const step of [10_000, 1, 2, 5]) {
    const p = new ResponseParser();
    const rs = feed(p, CHUNKED, step);
    assert.equal(rs.length, 1);
    assert.equal(rs[0]?.body.toString(), '{"index":"12"}');
    assert.equal(p.leftover, 0);
  }
});

test('interim 1xx answers are skipped; 204 has no body; Connection: close and HTTP/1.0 end keep-alive', () => {
  const p = new ResponseParser();
  const rs = feed(p, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}', 1);
  assert.deepEqual(
    rs.map((r) => [r.status, r.body.toString()]),
    [[200, '{}']],
  );
  assert.equal(feed(new ResponseParser(), 'HTTP/1.1 204 No Content\r\n\r\n', 100)[0]?.status, 204);
  const close = feed(new ResponseParser(), 'HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n', 100);
  assert.equal(close[0]?.keepAlive, false);
  const old = feed(new ResponseParser(), 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', 100);
  assert.equal(old[0]?.keepAlive, false);
  const kept = feed(new ResponseParser(), 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', 9);
  assert.equal(kept[0]?.keepAlive, true);
});

test('a body with neither length nor chunks ends at the close', () => {
  const p = new ResponseParser();
  assert.deepEqual(feed(p, 'HTTP/1.1 200 OK\r\n\r\n{"index":', 4), []);
  p.push(Buffer.from('"1"}'));
  const r = p.end();
  assert.equal(r?.body.toString(), '{"index":"1"}');
  assert.equal(r?.keepAlive, false);
});

test('a close in the middle of an answer is an error; between answers it is not', () => {
  const p = new ResponseParser();
  feed(p, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 100);
  assert.throws(() => p.end(), HttpParseError);
  const q = new ResponseParser();
  feed(q, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 100);
  assert.equal(q.end(), null);
  const r = new ResponseParser();
  r.push(Buffer.from('HTTP/1.1 2'));
  assert.throws(() => r.end(), /middle of an answer/);
});

test('answers that cannot be framed for certain are refused', () => {
  const bad = [
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX',
    `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}\r\n\r\n`,
    `HTTP/1.1 200 OK\r\nContent-Length: ${2 ** 40}\r\n\r\n`,
  ];
  for (const text of bad) assert.throws(() => feed(new ResponseParser(), text, 64), HttpParseError, text.slice(0, 60));
});
