// Answers a client does not read are bounded per source (unsent-answers.ts): past the bound its new
// requests are refused at once, and once its connections are gone it is served again.
import assert from 'node:assert/strict';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { fakeServer, post } from './test-util.ts';
import { SAMPLE_MS } from './unsent-answers.ts';
import { DEFAULT_LIMITS } from './limits.ts';
import { sleep } from '../../testkit/wait.ts';

const MIB = 1024 * 1024;
/** The per-source bound these tests set (--max-unsent-bytes-per-source; the default is 64 MiB). */
const MAX_UNSENT_BYTES_PER_SOURCE = 12 * MIB;
const limits = { maxInFlightPerConnection: 128, maxUnsentBytesPerSource: MAX_UNSENT_BYTES_PER_SOURCE };
/** Gets of a 1 MiB value whose answers, unread, pass the per-source bound. */
const OVER = MAX_UNSENT_BYTES_PER_SOURCE / MIB + 8;

function h2get(s: ClientHttp2Session): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
    let status = 0;
    let body = '';
    r.on('response', (h) => {
      status = Number(h[':status']);
      if (status !== 200)
        r.on('data', (c: Buffer) => (body += c.toString())).on('end', () => resolve({ status, body }));
      else resolve({ status, body }); // its 1 MiB body stays unread (window 0)
    });
    r.on('error', (e) => resolve({ status: -1, body: e.message }));
    r.end('{"key":"big"}');
  });
}

describe('answers a client does not read', () => {
  test('HTTP/2 with a window of 0: past the bound its source is refused (429), then served once it is gone', async () => {
    const { server, port } = await fakeServer({ limits });
    const reader = h2connect(`http://127.0.0.1:${port}`);
    const stuck = h2connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
    try {
      reader.on('error', () => undefined);
      stuck.on('error', () => undefined);
      assert.equal(
        (await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'big', value: 'x'.repeat(MIB - 64) }))).status,
        200,
      );
      const first = await Promise.all(Array.from({ length: OVER }, () => h2get(stuck)));
      assert.ok(first.every((a) => a.status === 200));
      // Before the session 11 audit these stayed admitted for ever (and each further connection added as much).
      for (let i = 0; i < 100 && server.unsentAnswers.sourceBytes('127.0.0.1') <= MAX_UNSENT_BYTES_PER_SOURCE; i++)
        await sleep(SAMPLE_MS);
      // The stuck connection itself is past Node's maxSessionMemory (10 MB): nghttp2 resets its new
      // streams. But a new connection from the same source started afresh: each one could hold as
      // much again (four held 700 MiB on a node before the session 11 audit). Now it is refused.
      const refused = await h2get(reader);
      assert.equal(refused.status, 429, refused.body);
      assert.match(
        refused.body,
        /"resource_exhausted".*waiting for the client to read them, over the limit of 12582912 \(--max-unsent-bytes-per-source\)/,
      );
      stuck.destroy();
      for (let i = 0; i < 100 && server.unsentAnswers.sourceBytes('127.0.0.1') > 0; i++) await sleep(SAMPLE_MS);
      assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"big"}')).status, 200);
      assert.ok(server.unsentAnswers.stats.refused >= 1);
    } finally {
      reader.destroy();
      stuck.destroy();
      await server.close();
    }
  });

  test('HTTP/1.1 pipelined answers never read are counted, and freed when the socket closes', async () => {
    const { server, port } = await fakeServer({ limits });
    const sock = netConnect(port, '127.0.0.1');
    try {
      sock.on('error', () => undefined);
      assert.equal(
        (await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'big', value: 'x'.repeat(MIB - 64) }))).status,
        200,
      );
      if (sock.connecting) await new Promise((r) => sock.once('connect', r));
      sock.pause();
      const get =
        'POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"key":"big"}';
      sock.write(get.repeat(OVER));
      for (let i = 0; i < 200 && server.unsentAnswers.sourceBytes('127.0.0.1') <= MAX_UNSENT_BYTES_PER_SOURCE; i++)
        await sleep(SAMPLE_MS);
      assert.ok(server.unsentAnswers.sourceBytes('127.0.0.1') > MAX_UNSENT_BYTES_PER_SOURCE);
      const refused = await post(port, '/leasekv.v1.KV/Get', '{"key":"big"}');
      assert.equal(refused.status, 429);
      sock.destroy();
      for (let i = 0; i < 100 && server.unsentAnswers.sourceBytes('127.0.0.1') > 0; i++) await sleep(SAMPLE_MS);
      assert.equal(server.unsentAnswers.sourceBytes('127.0.0.1'), 0);
      assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"big"}')).status, 200);
    } finally {
      sock.destroy();
      await server.close();
    }
  });

  test('a client that reads: fast-path answers are never watched (no entry per request); the default bound is 64 MiB', async () => {
    assert.equal(DEFAULT_LIMITS.maxUnsentBytesPerSource, 64 * MIB);
    assert.equal(DEFAULT_LIMITS.maxUnsentBytes, 256 * MIB);
    const { server, port } = await fakeServer({ limits });
    try {
      assert.equal((await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'k', value: 'v' }))).status, 200);
      for (let i = 0; i < 50; i++) assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"k"}')).status, 200);
      assert.ok(server.fastPath!.served >= 51);
      assert.equal(server.unsentAnswers.stats.watched, 0);
      assert.equal(server.unsentAnswers.watching, 0);
      // A Connect answer (here: Range) is watched from admission, and dropped at the next sample once sent.
      assert.equal((await post(port, '/leasekv.v1.KV/Range', '{"prefix":"k"}')).status, 200);
      assert.equal(server.unsentAnswers.stats.watched, 1);
      server.unsentAnswers.sample();
      assert.equal(server.unsentAnswers.watching, 0);
    } finally {
      await server.close();
    }
  });

  test('all sources together past --max-unsent-bytes: a source with bytes unsent is refused, one without is served', async () => {
    const { server, port } = await fakeServer({
      limits: { ...limits, maxUnsentBytesPerSource: 24 * MIB, maxUnsentBytes: 24 * MIB },
    });
    const socks = ['127.0.0.1', '127.0.0.2'].map((localAddress) =>
      netConnect({ port, host: '127.0.0.1', localAddress }),
    );
    try {
      for (const s of socks) s.on('error', () => undefined);
      assert.equal(
        (await post(port, '/leasekv.v1.KV/Put', JSON.stringify({ key: 'big', value: 'x'.repeat(MIB - 64) }))).status,
        200,
      );
      const get =
        'POST /leasekv.v1.KV/Get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"key":"big"}';
      for (const s of socks) {
        if (s.connecting) await new Promise((r) => s.once('connect', r));
        s.pause();
        s.write(get.repeat(16));
      }
      const u = server.unsentAnswers;
      for (let i = 0; i < 200 && u.totalBytes <= 24 * MIB; i++) await sleep(SAMPLE_MS);
      assert.ok(u.totalBytes > 24 * MIB && u.sourceBytes('127.0.0.1') < 24 * MIB, `${u.totalBytes}`);
      const refused = await post(port, '/leasekv.v1.KV/Get', '{"key":"big"}');
      assert.equal(refused.status, 429);
      assert.match(refused.body, /on this node, over the limit of 25165824 \(--max-unsent-bytes\)/);
      // 127.0.0.3 has nothing unsent: it is served.
      const other = await new Promise<string>((resolve, reject) => {
        const c = netConnect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' }, () =>
          c.write(get.replace('{"key":"big"}', '{"key":"no"}').replace('13', '12') + '\r\n'),
        );
        let got = '';
        c.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.includes('"found"')) {
            c.destroy();
            resolve(got);
          }
        });
        c.on('error', reject);
      });
      assert.match(other, /^HTTP\/1.1 200/);
    } finally {
      for (const s of socks) s.destroy();
      await server.close();
    }
  });
});
