// HEAD on the GET routes answers as GET would, without the body (RFC 9110 §9.3.2), except on streams
// and the backup (405, Allow: GET); a request with two Host fields is refused 400 before any work
// (RFC 9112 §3.2) — Node keeps the first, so the host check and a proxy could judge different names.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ApiServer } from './server.ts';
import { fakeServer, post } from './test-util.ts';

/** Sends `head` (the request line and fields, CRLF-separated) and returns all the server sent before closing. */
function raw(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${head}\r\n\r\n`));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => {
      s.destroy();
      resolve(`${out}<timeout>`);
    });
  });
}

describe('HEAD and repeated Host', () => {
  let server: ApiServer;
  let port: number;
  let runs = 0;
  before(async () => {
    ({ server, port } = await fakeServer());
    server.addRoute('GET', '/health', (_req, res) => {
      runs++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
      res.end('{"ok":true}');
    });
    server.addRoute('GET', '/stream', (_req, res) => res.end('never for HEAD'), false);
  });
  after(() => server.close());

  test('HEAD on a GET route: the status and headers GET gets, no body', async () => {
    const get = await post(port, '/health', '', {}, 'GET');
    const head = await post(port, '/health', '', {}, 'HEAD');
    assert.deepEqual([get.status, get.body], [200, '{"ok":true}']);
    assert.deepEqual([head.status, head.body], [200, '']);
    assert.equal(head.headers['content-type'], 'application/json');
    assert.equal(head.headers['content-length'], '11');
    // Other methods: 405, and Allow now names HEAD too.
    const put = await post(port, '/health', '{}', { 'content-type': 'application/json' }, 'PUT');
    assert.deepEqual([put.status, put.headers['allow']], [405, 'GET, HEAD']);
  });

  test('HEAD on a stream (head: false), the SSE watch and an API method: 405 with Allow', async () => {
    const stream = await post(port, '/stream', '', {}, 'HEAD');
    assert.deepEqual([stream.status, stream.headers['allow']], [405, 'GET']);
    const sse = await post(port, '/v1/watch?key=a', '', {}, 'HEAD');
    assert.deepEqual([sse.status, sse.headers['allow']], [405, 'GET']);
    const api = await post(port, '/leasekv.v1.KV/Status', '', {}, 'HEAD');
    assert.deepEqual([api.status, api.headers['allow']], [405, 'POST']);
  });

  test('two Host fields: 400 invalid_argument before any work, connection closed', async () => {
    const before = runs;
    const two = await raw(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nhost: evil.example');
    assert.match(two, /^HTTP\/1\.1 400 /);
    assert.match(two, /\r\nconnection: close\r\n/i);
    assert.match(two, /"code":"invalid_argument".*2 Host header fields/);
    assert.equal(runs, before, 'the route ran');
    const api = await raw(
      port,
      'POST /leasekv.v1.KV/Status HTTP/1.1\r\nHost: a\r\nHost: a\r\ncontent-type: application/json\r\ncontent-length: 0',
    );
    assert.match(api, /^HTTP\/1\.1 400 /);
    // One Host: served.
    const one = await raw(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nconnection: close');
    assert.match(one, /^HTTP\/1\.1 200 /);
    assert.equal(runs, before + 1);
  });
});
