// The client API as curl sees it: plain HTTP/1.1 JSON requests, good and bad.
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotLeaderError } from '../backend.ts';
import type { FakeBackend } from './fake-backend.ts';
import type { ApiServer } from './server.ts';
import { fakeServer, post } from './test-util.ts';

const KV = '/leasekv.v1.KV';

describe('HTTP/JSON API over a fake backend', () => {
  let server: ApiServer;
  let backend: FakeBackend;
  let port: number;
  before(async () => {
    ({ server, backend, port } = await fakeServer({
      limits: { maxKeyBytes: 16, maxValueBytes: 64, maxRequestBytes: 4096, maxRangeLimit: 5, defaultRangeLimit: 2 },
    }));
  });
  after(() => server.close());

  const call = async (method: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await post(port, `${KV}/${method}`, typeof body === 'string' ? body : JSON.stringify(body));
    return { status: r.status, json: JSON.parse(r.body) as Record<string, unknown> };
  };
  const expectError = async (
    method: string,
    body: unknown,
    code: string,
    status: number,
    msg?: RegExp,
  ): Promise<void> => {
    const r = await call(method, body);
    assert.equal(r.json['code'], code, JSON.stringify(r.json));
    assert.equal(r.status, status);
    if (msg !== undefined) assert.match(String(r.json['message']), msg);
  };

  test('put, get, delete, cas, range, status', async () => {
    assert.deepEqual((await call('Put', { key: 'a', value: 'x' })).json, { index: '1', revision: '1' });
    assert.deepEqual((await call('Get', { key: 'a' })).json, {
      found: true,
      value: 'x',
      index: '1',
      readMode: 'READ_MODE_LEASE',
      staleByMs: 0,
      revision: '1',
      createRevision: '1',
      modRevision: '1',
      version: '1',
    });
    assert.deepEqual((await call('Get', { key: 'zz', consistency: 'STALE' })).json, {
      found: false,
      value: '',
      index: '1',
      readMode: 'READ_MODE_STALE',
      staleByMs: 0,
      revision: '1',
      createRevision: '0',
      modRevision: '0',
      version: '0',
    });
    assert.deepEqual((await call('CompareAndSwap', { key: 'a', expected: 'nope', value: 'y' })).json, {
      swapped: false,
      current: 'x',
      index: '2',
      revision: '1',
    });
    assert.deepEqual((await call('CompareAndSwap', { key: 'a', expected: 'x', value: 'y' })).json, {
      swapped: true,
      index: '3',
      revision: '2',
    });
    assert.deepEqual((await call('CompareAndSwap', { key: 'b', value: 'new' })).json, {
      swapped: true,
      index: '4',
      revision: '3',
    });
    assert.deepEqual((await call('CompareAndSwap', { key: 'b', value: 'again' })).json, {
      swapped: false,
      current: 'new',
      index: '5',
      revision: '3',
    });
    await call('Put', { key: 'ab', value: '1' });
    const range = await call('Range', { prefix: 'a' });
    assert.deepEqual(range.json, {
      kvs: [
        { key: 'a', value: 'y', createRevision: '1', modRevision: '2', version: '2' },
        { key: 'ab', value: '1', createRevision: '4', modRevision: '4', version: '1' },
      ],
      more: false,
      index: '6',
      revision: '4',
    });
    assert.deepEqual((await call('Range', { prefix: '', limit: 1 })).json['more'], true);
    assert.deepEqual((await call('Delete', { key: 'ab' })).json, { deleted: true, index: '7', revision: '5' });
    assert.deepEqual((await call('Delete', { key: 'ab' })).json, { deleted: false, index: '8', revision: '5' });
    const st = await call('Status', {});
    assert.equal(st.json['role'], 'LEADER');
    assert.equal(st.json['id'], 'n1');
    assert.equal(st.json['leaseHeld'], true);
  });

  test('bad input: invalid_argument with a clear message, and the node keeps serving', async () => {
    await expectError('Get', '{"key":', 'invalid_argument', 400, /cannot decode/);
    await expectError('Get', '[1,2]', 'invalid_argument', 400);
    await expectError('Get', { key: 'a', bogus: 1 }, 'invalid_argument', 400, /bogus.*unknown/);
    await expectError('Get', { key: 'a', consistency: 'LINEARISABLE' }, 'invalid_argument', 400, /Consistency/);
    await expectError('Range', { prefix: 'a', consistency: 'stale' }, 'invalid_argument', 400);
    await expectError('Get', { key: '' }, 'invalid_argument', 400, /key must not be empty/);
    await expectError('Put', { value: 'v' }, 'invalid_argument', 400, /key must not be empty/);
    await expectError(
      'Put',
      { key: 'k'.repeat(17), value: 'v' },
      'invalid_argument',
      400,
      /key is 17 bytes; the limit is 16 bytes/,
    );
    await expectError('Put', { key: 'é'.repeat(9), value: 'v' }, 'invalid_argument', 400, /key is 18 bytes/);
    await expectError(
      'Put',
      { key: 'k', value: 'v'.repeat(65) },
      'invalid_argument',
      400,
      /value is 65 bytes; the limit is 64/,
    );
    await expectError(
      'CompareAndSwap',
      { key: 'k', expected: 'v'.repeat(65), value: '' },
      'invalid_argument',
      400,
      /expected is 65 bytes/,
    );
    await expectError('Range', { prefix: 'a', limit: 6 }, 'invalid_argument', 400, /limit 6 is above the maximum of 5/);
    await expectError('Put', { key: 'k', value: 'v', seq: 3 }, 'invalid_argument', 400, /seq given without client_id/);
    await expectError('Put', { key: 'k', value: 'v', clientId: 'c' }, 'invalid_argument', 400, /without seq/);
    await expectError('Put', { key: 'k', value: 'v', seq: -1 }, 'invalid_argument', 400);
    await expectError('Put', { key: 'k', value: 'x'.repeat(5000) }, 'resource_exhausted', 413);
    // Lone surrogates have no UTF-8 form: stored they would silently become U+FFFD. Refused with
    // Connect's message, on the fast path too (it hands them to Connect).
    await expectError('Put', { key: 'k\ud800', value: 'v' }, 'invalid_argument', 400, /PutRequest\.key.*invalid UTF8/);
    await expectError('Get', { key: '\udc00' }, 'invalid_argument', 400, /GetRequest\.key.*invalid UTF8/);
    await expectError(
      'Put',
      { key: 'k', value: 'v\ud800' },
      'invalid_argument',
      400,
      /PutRequest\.value.*invalid UTF8/,
    );
    await expectError(
      'CompareAndSwap',
      { key: 'k', expected: '\ud800', value: 'v' },
      'invalid_argument',
      400,
      /expected is not valid Unicode|expected.*invalid UTF8/,
    );
    await expectError('Range', { prefix: '\ud800' }, 'invalid_argument', 400, /prefix.*invalid UTF8/);
    await expectError(
      'Put',
      { key: 'k', value: 'v', clientId: '\ud800', seq: 1 },
      'invalid_argument',
      400,
      /client_id.*invalid UTF8/,
    );
    // A uint64 above 2^53 is named by its own field, not "seq" (session 9 audit).
    const big = '18446744073709551615';
    await expectError('Range', { prefix: '', revision: big }, 'invalid_argument', 400, /^revision \d+ is too large$/);
    await expectError(
      'Put',
      { key: 'k', value: 'v', ttlId: big },
      'invalid_argument',
      400,
      /^ttl_id \d+ is too large$/,
    );
    await expectError('TtlKeepAlive', { id: big }, 'invalid_argument', 400, /^id \d+ is too large$/);
    await expectError('Compact', { revision: big }, 'invalid_argument', 400, /^revision \d+ is too large$/);
    assert.equal((await call('Put', { key: 'k😀', value: 'é😀' })).status, 200, 'surrogate pairs are fine');
    assert.equal((await call('Get', { key: 'a' })).json['found'], true);
  });

  test('unknown method → 404 unimplemented; wrong content-type → 415; GET not allowed', async () => {
    const r = await post(port, `${KV}/Nope`, '{}');
    assert.equal(r.status, 404);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'unimplemented');
    assert.equal((await post(port, `${KV}/Get`, '{"key":"a"}', { 'content-type': 'text/plain' })).status, 415);
    const wrong = await post(port, `${KV}/Put`, '', {}, 'GET');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers['allow'], 'POST');
  });

  test('an extra route (GET /health, /metrics, the dashboard) with another method → 405 with Allow, like the API', async () => {
    server.addRoute('GET', '/health', (_req, res) => res.end('ok'));
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await post(port, '/health?x=1', '{}', { 'content-type': 'application/json' }, method);
      assert.equal(r.status, 405, `${method} /health`);
      assert.equal(r.headers['allow'], 'GET, HEAD');
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'unimplemented');
    }
    assert.equal((await post(port, '/health', '', {}, 'GET')).status, 200);
    assert.equal((await post(port, '/no-such-route', '{}')).status, 404, 'an unknown path stays 404');
  });

  test('not leader → failed_precondition with the hint in the message and headers', async () => {
    backend.followerOf = { leaderId: 'n2', leaderClientAddr: '127.0.0.1:7002' };
    try {
      for (const method of ['Get', 'Put']) {
        const r = await post(
          port,
          `${KV}/${method}`,
          JSON.stringify(method === 'Put' ? { key: 'a', value: 'v' } : { key: 'a' }),
        );
        assert.equal(r.status, 400);
        assert.deepEqual(JSON.parse(r.body), {
          code: 'failed_precondition',
          message: 'not leader; leader is n2 at 127.0.0.1:7002',
        });
        assert.equal(r.headers['leasekv-leader'], 'n2');
        assert.equal(r.headers['leasekv-leader-addr'], '127.0.0.1:7002');
      }
      // A stale read is answered by a follower.
      const stale = await call('Get', { key: 'a', consistency: 'STALE' });
      assert.equal(stale.json['readMode'], 'READ_MODE_STALE');
      assert.equal(stale.json['staleByMs'], 42);
    } finally {
      backend.followerOf = undefined;
    }
  });

  test('deadline from connect-timeout-ms → deadline_exceeded; a bad header → invalid_argument', async () => {
    backend.delayMs = 300;
    try {
      const r = await post(port, `${KV}/Get`, '{"key":"a"}', {
        'content-type': 'application/json',
        'connect-timeout-ms': '30',
      });
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'deadline_exceeded');
      const bad = await post(port, `${KV}/Get`, '{"key":"a"}', {
        'content-type': 'application/json',
        'connect-timeout-ms': 'soon',
      });
      assert.equal((JSON.parse(bad.body) as { code: string }).code, 'invalid_argument');
    } finally {
      backend.delayMs = 0;
    }
  });
});

describe('back-pressure and backend errors', () => {
  test('beyond maxInFlight requests are refused with resource_exhausted, not queued', async () => {
    const { server, backend, port } = await fakeServer({ limits: { maxInFlight: 2 } });
    // Admitted requests are held until all six are in or answered: with a fixed delay instead, a
    // loaded machine could finish the first two before the last ones arrived (a CI flake).
    let release = (): void => undefined;
    backend.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      let settled = 0;
      const pending = Array.from({ length: 6 }, (_, i) =>
        post(port, `${KV}/${i % 2 === 0 ? 'Get' : 'Range'}`, i % 2 === 0 ? '{"key":"a"}' : '{}').finally(
          () => settled++,
        ),
      );
      const until = Date.now() + 60_000;
      while (settled + backend.calls.length < 6 && Date.now() < until) await sleep(10);
      backend.hold = null;
      release();
      const answers = await Promise.all(pending);
      const codes = answers.map((a) => (a.status === 200 ? 'ok' : (JSON.parse(a.body) as { code: string }).code));
      assert.equal(codes.filter((c) => c === 'ok').length, 2, codes.join());
      assert.equal(codes.filter((c) => c === 'resource_exhausted').length, 4, codes.join());
      assert.ok(answers.filter((a) => a.status !== 200).every((a) => a.status === 429));
      assert.equal(server.core.inFlight, 0);
      assert.equal((await post(port, `${KV}/Get`, '{"key":"a"}')).status, 200);
    } finally {
      await server.close();
    }
  });

  test('typed backend errors map to codes', async () => {
    const { server, backend, port } = await fakeServer();
    const { UnavailableError, OverloadedError, SessionExpiredError, OutcomeUnknownError } =
      await import('../backend.ts');
    try {
      const cases: [Error, string, number][] = [
        [new UnavailableError('no quorum'), 'unavailable', 503],
        [new OverloadedError('proposal queue full'), 'resource_exhausted', 429],
        [new SessionExpiredError('client c'), 'aborted', 409],
        [new OutcomeUnknownError('lost leadership'), 'unavailable', 503],
        [new NotLeaderError('', ''), 'failed_precondition', 400],
        [new Error('boom'), 'internal', 500],
      ];
      for (const [err, code, status] of cases) {
        backend.failNext.push(err);
        const r = await post(port, `${KV}/Put`, '{"key":"a","value":"b"}');
        assert.equal((JSON.parse(r.body) as { code: string }).code, code, err.name);
        assert.equal(r.status, status, err.name);
        if (err instanceof OutcomeUnknownError) assert.equal(r.headers['leasekv-outcome'], 'unknown');
      }
    } finally {
      await server.close();
    }
  });

  test('extra routes are served on HTTP/1.1', async () => {
    const { server, port } = await fakeServer();
    try {
      server.addRoute('GET', '/metrics', (_req, res) => res.end('up 1\n'));
      const r = await post(port, '/metrics?x=1', '', {}, 'GET');
      assert.equal(r.body, 'up 1\n');
    } finally {
      await server.close();
    }
  });

  test('every answer says nosniff and no-store: successes, fast path and Connect, every JSON error, extra routes, HTTP/2', async () => {
    const { server: s2, port: p2 } = await fakeServer({
      limits: { maxKeyBytes: 16, maxValueBytes: 64, maxRequestBytes: 4096 },
    });
    s2.addRoute('GET', '/x', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'));
    s2.addRoute('GET', '/cached', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'no-cache' }).end('x'),
    );
    try {
      const answers = [
        await post(p2, `${KV}/Put`, '{"key":"a","value":"x"}'), // fast path
        await post(p2, `${KV}/Get`, '{"key":"a"}'),
        await post(p2, `${KV}/Get`, '{"key":1}'), // fast path declines: Connect's invalid_argument
        await post(p2, `${KV}/Range`, '{"prefix":"a"}'), // Connect
        await post(p2, `${KV}/Get`, '{'), // fast-path JSON error
        await post(p2, `${KV}/Nope`, '{}'), // 404
        await post(p2, `${KV}/Get`, '{}', { 'content-type': 'application/json' }, 'PUT'), // 405
        await post(p2, `${KV}/Range`, 'x', { 'content-type': 'text/html' }), // 415
        await post(p2, `${KV}/Range`, ' '.repeat(5000)), // 413
        await post(p2, '/x', '', {}, 'GET'),
      ];
      for (const [i, r] of answers.entries()) {
        assert.equal(r.headers['x-content-type-options'], 'nosniff', `answer ${i} (${r.status})`);
        assert.equal(r.headers['cache-control'], 'no-store', `answer ${i} (${r.status})`);
      }
      assert.deepEqual(
        answers.map((r) => r.status),
        [200, 200, 400, 200, 400, 404, 405, 415, 413, 200],
      );
      // A route may say otherwise (the dashboard's assets: no-cache).
      const cached = await post(p2, '/cached', '', {}, 'GET');
      assert.equal(cached.headers['cache-control'], 'no-cache');
      assert.equal(cached.headers['x-content-type-options'], 'nosniff');
      // The server-sent-event watch: key data, no-store (it said no-cache before session 12).
      const watchHeaders = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const r = httpGet({ host: '127.0.0.1', port: p2, path: '/v1/watch?key=a' }, (res) => {
          resolve(res.headers);
          r.destroy();
        });
        r.on('error', reject);
      });
      assert.equal(watchHeaders['content-type'], 'text/event-stream');
      assert.equal(watchHeaders['cache-control'], 'no-store');
      assert.equal(watchHeaders['x-content-type-options'], 'nosniff');
      // HTTP/2 (Connect over h2c) too.
      const session = h2connect(`http://127.0.0.1:${p2}`);
      try {
        const h = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const r = session.request({ ':method': 'POST', ':path': `${KV}/Get`, 'content-type': 'application/json' });
          r.on('response', (hs) => resolve(hs)).on('error', reject);
          r.resume();
          r.end('{"key":"a"}');
        });
        assert.equal(h[':status'], 200);
        assert.equal(h['x-content-type-options'], 'nosniff');
        assert.equal(h['cache-control'], 'no-store');
      } finally {
        session.destroy();
      }
    } finally {
      await s2.close();
    }
  });
});
