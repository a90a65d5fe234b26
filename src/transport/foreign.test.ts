// A port mix-up between the peer and the client protocol (session 11 operator audit): an HTTP client
// at a peer port reads why in plain HTTP, and a member whose peer address is an HTTP server (a client
// port) is named as such, instead of "frame of 1213486164 bytes exceeds maxFrameBytes".
import assert from 'node:assert/strict';
import { createServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { get, heartbeat, startMesh } from './test-helpers.ts';
import { waitFor } from '../testkit/wait.ts';

test('an HTTP request to a peer port is answered 503 unavailable with the reason (the client tries its other endpoints), and logged as such', async () => {
  const nodes = await startMesh(['a']);
  const a = get(nodes, 'a');
  try {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpGet({ host: '127.0.0.1', port: a.t.port, path: '/leasekv.v1.KV/Get' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
    assert.equal(answer.status, 503);
    const body = JSON.parse(answer.body) as { code: string; message: string };
    assert.equal(body.code, 'unavailable');
    assert.match(body.message, /leasekv peer port: .*use the client port \(--listen-client\)/);
    assert.ok(
      a.logs.some(
        (l) => l.msg === 'refused peer connection' && /an HTTP request on the peer port/.test(JSON.stringify(l.fields)),
      ),
      JSON.stringify(a.logs),
    );
  } finally {
    await a.t.stop();
  }
});

test("a member whose peer address answers HTTP (another member's client port) is named in the send error", async () => {
  const http = createServer((_req, res) => res.writeHead(400).end('{"code":"invalid_argument"}'));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  const nodes = await startMesh(['a', 'b']);
  const a = get(nodes, 'a');
  try {
    a.t.setPeerAddress('b', { host: '127.0.0.1', port });
    const said = (): boolean =>
      a.logs.some((l) =>
        new RegExp(`node b's address 127\\.0\\.0\\.1:${port} answered HTTP: it is a client port`).test(
          JSON.stringify(l.fields),
        ),
      );
    await waitFor('the send error names HTTP', 10_000, () => {
      a.t.send([heartbeat('a', 'b', 1)]);
      return said();
    });
    assert.ok(!a.logs.some((l) => /exceeds maxFrameBytes/.test(JSON.stringify(l.fields))), JSON.stringify(a.logs));
  } finally {
    for (const n of nodes.values()) await n.t.stop();
    http.close();
  }
});
