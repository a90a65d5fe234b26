// The in-flight budget's shares (issue 13): one source, however many connections it opens, is shed
// with resource_exhausted while another source's requests are still admitted.
import assert from 'node:assert/strict';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { Admission, fairShare, type ConnShare } from './admission.ts';
import { resolveLimits, ApiLimitsError } from './limits.ts';
import { fakeServer, post } from './test-util.ts';
import { waitFor } from '../../testkit/wait.ts';

const conn = (source: string): ConnShare => ({ inFlight: 0, source });

/** Enters until refused (at most `max` times); returns how many were admitted and the refusal. */
function fill(a: Admission, c: ConnShare, max = 10_000): { admitted: number; refusal: ConnectError | null } {
  for (let admitted = 0; admitted < max; admitted++) {
    try {
      a.enter(c);
    } catch (e) {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.ResourceExhausted);
      return { admitted, refusal: e };
    }
  }
  return { admitted: max, refusal: null };
}

describe('admission: shares of the in-flight budget', () => {
  test('defaults: per connection max(8, budget/8), per source max(8, budget/4), checked in order', () => {
    const l = resolveLimits({ maxInFlight: 1024 });
    assert.equal(l.maxInFlightPerConnection, 128);
    assert.equal(l.maxInFlightPerSource, 256);
    assert.equal(resolveLimits({ maxInFlight: 4 }).maxInFlightPerSource, 4);
    assert.equal(resolveLimits({ maxInFlightPerConnection: 300 }).maxInFlightPerSource, 300);
    assert.throws(() => resolveLimits({ maxInFlight: 100, maxInFlightPerSource: 200 }), ApiLimitsError);
    assert.throws(
      () => resolveLimits({ maxInFlightPerConnection: 50, maxInFlightPerSource: 20 }),
      /maxInFlightPerConnection \(50\) exceeds maxInFlightPerSource \(20\)/,
    );
    assert.throws(() => resolveLimits({ maxInFlightPerSource: 0 }), /maxInFlightPerSource/);
  });

  test('one source over many connections is held to its share; another source is admitted', () => {
    const a = new Admission({ maxInFlight: 64, maxInFlightPerConnection: 8, maxInFlightPerSource: 16 });
    const attacker = Array.from({ length: 8 }, () => conn('10.0.0.2'));
    let admitted = 0;
    let refusal: ConnectError | null = null;
    for (const c of attacker) {
      const r = fill(a, c);
      admitted += r.admitted;
      refusal = r.refusal ?? refusal;
    }
    assert.equal(admitted, 16);
    assert.match(refusal?.message ?? '', /source 10\.0\.0\.2 has 16 requests in flight \(the per-source share/);
    const probe = conn('10.0.0.1');
    a.enter(probe);
    assert.equal(a.activeSources, 2);
    a.leave(probe);
    for (const c of attacker) while (c.inFlight > 0) a.leave(c);
    assert.equal(a.inFlight, 0);
    assert.equal(a.activeSources, 0, 'a source with nothing in flight is forgotten');
  });

  test('sources that together could fill the budget are held to fair shares, leaving room for a newcomer', () => {
    // Four greedy sources, each allowed 8 on its own, could hold all 32; under contention each is
    // held to 32 / (active + 1), whatever the order in which their requests arrive.
    for (const order of ['one source after another', 'round robin'] as const) {
      const a = new Admission({ maxInFlight: 32, maxInFlightPerConnection: 8, maxInFlightPerSource: 8 });
      const greedy = ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'].map(conn);
      if (order === 'one source after another') for (const c of greedy) fill(a, c);
      else
        for (let round = 0; round < 8; round++)
          for (const c of greedy) {
            try {
              a.enter(c);
            } catch {
              // refused: its share is reached
            }
          }
      assert.ok(a.inFlight < 32, `${order}: ${a.inFlight} in flight`);
      const last = greedy[3] as ConnShare;
      assert.ok(last.inFlight <= fairShare(32, 4), `${order}: the last source holds ${last.inFlight}`);
      const r = fill(a, last);
      assert.equal(r.admitted, 0, order);
      assert.match(r.refusal?.message ?? '', /its fair share while 4 sources compete for 32/);
      const probe = conn('10.0.0.1');
      a.enter(probe); // admitted: the share kept free
      assert.equal(probe.inFlight, 1, order);
    }
  });

  test('a lone source below half the budget is not held to a fair share', () => {
    const a = new Admission({ maxInFlight: 8, maxInFlightPerConnection: 8, maxInFlightPerSource: 8 });
    assert.equal(fill(a, conn('10.0.0.2')).admitted, 8);
  });
});

function h2From(port: number, localAddress: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(`http://127.0.0.1:${port}`, {
      createConnection: () => netConnect({ host: '127.0.0.1', port, localAddress }),
    });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function h2Get(s: ClientHttp2Session): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const r = s.request({ ':method': 'POST', ':path': '/leasekv.v1.KV/Get', 'content-type': 'application/json' });
    let status = 0;
    let body = '';
    r.on('response', (h) => (status = Number(h[':status'])));
    r.on('data', (c: Buffer) => (body += c.toString()));
    r.on('end', () => resolve({ status, body }));
    r.on('error', (e) => resolve({ status: -1, body: e.message }));
    r.end('{"key":"a"}');
  });
}

describe('admission through real connections', () => {
  test('one address saturating over many HTTP/2 connections is shed; another address is answered', async () => {
    // Budget 32: 8 per connection, 8 per source by default. The attacker (127.0.0.2) keeps 48
    // requests in flight over 6 connections; before per-source shares it took the whole budget
    // (6 × 8 ≥ 32) and every other client got 429.
    const { server, backend, port } = await fakeServer({ limits: { maxInFlight: 32 } });
    // Admitted requests are held until the probe is in (a fixed delay let a loaded machine finish
    // the first ones before the last arrived).
    let release = (): void => undefined;
    backend.hold = new Promise<void>((resolve) => (release = resolve));
    const sessions: ClientHttp2Session[] = [];
    try {
      for (let i = 0; i < 6; i++) sessions.push(await h2From(port, '127.0.0.2'));
      const attack = sessions.flatMap((s) => Array.from({ length: 8 }, () => h2Get(s)));
      // Every attacking request has been admitted or refused before the probe is sent.
      await waitFor('the attack to be admitted or refused', 30_000, () => {
        return server.core.inFlight + server.core.rejectedOverload >= 48;
      });
      let probeSettled = false;
      const probeP = post(port, '/leasekv.v1.KV/Get', '{"key":"a"}').finally(() => (probeSettled = true));
      await waitFor('the probe admitted (or refused)', 30_000, () => probeSettled || server.core.inFlight >= 9);
      backend.hold = null;
      release();
      const probe = await probeP;
      assert.equal(probe.status, 200, probe.body);
      const answers = await Promise.all(attack);
      assert.equal(answers.filter((a) => a.status === 200).length, 8);
      const refused = answers.filter((a) => a.status !== 200);
      assert.equal(refused.length, 40);
      for (const r of refused) {
        assert.equal(r.status, 429);
        const body = JSON.parse(r.body) as { code: string; message: string };
        assert.equal(body.code, 'resource_exhausted');
        assert.match(body.message, /source .*127\.0\.0\.2 has 8 requests in flight/);
      }
      assert.equal(server.core.inFlight, 0);
    } finally {
      release();
      for (const s of sessions) s.destroy();
      await server.close();
    }
  });

  test('a connection refused more often in a second than its share is closed (GOAWAY); its admitted requests are answered', async () => {
    const { server, backend, port } = await fakeServer({ limits: { maxInFlight: 32 } });
    // The admitted eight are held until the refusals are counted (not a fixed delay: see above).
    let release = (): void => undefined;
    backend.hold = new Promise<void>((resolve) => (release = resolve));
    const s = await h2From(port, '127.0.0.2');
    try {
      const goaway = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no GOAWAY within 30 s')), 30_000);
        s.once('goaway', (code: number) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
      s.on('error', () => undefined);
      // 8 admitted (the per-connection share), then 9 refused: one more than the share.
      const admitted = Array.from({ length: 8 }, () => h2Get(s));
      await waitFor('8 requests in flight', 30_000, () => server.core.inFlight === 8);
      const refused = [];
      for (let i = 0; i < 9; i++) refused.push(await h2Get(s));
      assert.deepEqual(
        refused.map((r) => r.status),
        Array.from({ length: 9 }, () => 429),
      );
      assert.equal(await goaway, 0); // NO_ERROR: a graceful close
      backend.hold = null;
      release();
      const answers = await Promise.all(admitted);
      assert.deepEqual(
        answers.map((a) => a.status),
        Array.from({ length: 8 }, () => 200),
      );
      assert.equal((await post(port, '/leasekv.v1.KV/Get', '{"key":"a"}')).status, 200);
    } finally {
      release();
      s.destroy();
      await server.close();
    }
  });
});
