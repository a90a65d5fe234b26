// The fast path must answer byte-for-byte like the Connect path: same status, content type,
// leasekv headers and body, for good requests, bad requests and backend errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiServer } from './server.ts';
import type { FakeBackend } from './fake-backend.ts';
import { fakeServer, post, type RawAnswer } from './test-util.ts';

const limits = { maxKeyBytes: 16, maxValueBytes: 64, maxRequestBytes: 2048 };

interface Case {
  readonly name: string;
  readonly path: string;
  readonly body: string;
  readonly headers?: Record<string, string>;
  readonly setup?: (b: FakeBackend) => void;
}

const G = '/leasekv.v1.KV/Get';
const P = '/leasekv.v1.KV/Put';
const CASES: readonly Case[] = [
  { name: 'put', path: P, body: '{"key":"a","value":"x"}' },
  {
    name: 'put with escapes',
    path: P,
    body: JSON.stringify({ key: 'é\n"q"', value: 'tab\t\u2028\u0000 ☃ \ud83d\ude00' }),
  },
  { name: 'get escapes', path: G, body: JSON.stringify({ key: 'é\n"q"' }) },
  { name: 'put empty value', path: P, body: '{"key":"e","value":""}' },
  { name: 'get', path: G, body: '{"key":"a"}' },
  { name: 'get linearizable', path: G, body: '{"key":"a","consistency":"LINEARIZABLE"}' },
  { name: 'get stale', path: G, body: '{"consistency":"STALE","key":"a"}' },
  { name: 'get missing', path: G, body: '{"key":"missing"}' },
  { name: 'put session', path: P, body: '{"key":"s","value":"1","clientId":"c1","seq":1}' },
  { name: 'put session retried', path: P, body: '{"key":"s","value":"1","clientId":"c1","seq":1}' },
  { name: 'put seq string', path: P, body: '{"key":"s","value":"2","clientId":"c1","seq":"2"}' },
  { name: 'put proto names (declined)', path: P, body: '{"key":"s","value":"3","client_id":"c1","seq":3}' },
  { name: 'get numeric enum (declined)', path: G, body: '{"key":"a","consistency":1}' },
  { name: 'get null field (declined)', path: G, body: '{"key":"a","consistency":null}' },
  {
    name: 'charset content type',
    path: G,
    body: '{"key":"a"}',
    headers: { 'content-type': 'application/json; charset=utf-8' },
  },
  { name: 'empty key', path: G, body: '{"key":""}' },
  { name: 'no key', path: P, body: '{"value":"v"}' },
  { name: 'oversized key', path: P, body: JSON.stringify({ key: 'k'.repeat(17), value: '' }) },
  { name: 'oversized value', path: P, body: JSON.stringify({ key: 'k', value: 'v'.repeat(65) }) },
  { name: 'body over maxRequestBytes', path: P, body: JSON.stringify({ key: 'k', value: 'v'.repeat(3000) }) },
  { name: 'seq without client', path: P, body: '{"key":"k","value":"v","seq":4}' },
  { name: 'malformed', path: G, body: '{"key":' },
  { name: 'duplicate key', path: P, body: '{"key":"a","value":"x","key":"b"}' },
  { name: 'duplicate key, escaped', path: G, body: '{"key":"a","k\\u0065y":"b"}' },
  { name: 'deep nesting', path: G, body: `{"key":"a","x":${'['.repeat(70)}${']'.repeat(70)}}` },
  { name: 'byte-order mark', path: G, body: '\ufeff{"key":"a"}' },
  { name: 'not an object', path: G, body: '"a"' },
  { name: 'empty body', path: G, body: '' },
  { name: 'unknown field', path: G, body: '{"key":"a","nope":true}' },
  { name: 'misspelled enum', path: G, body: '{"key":"a","consistency":"stale"}' },
  { name: 'wrong type', path: P, body: '{"key":1,"value":"v"}' },
  {
    name: 'bad timeout header',
    path: G,
    body: '{"key":"a"}',
    headers: { 'content-type': 'application/json', 'connect-timeout-ms': '1.5' },
  },
  // Session 9 audit: the fast path answered these differently from Connect (a 0 deadline: 200, and
  // the Put applied; lone surrogates: its own message instead of Connect's).
  {
    name: 'timeout 0 get',
    path: G,
    body: '{"key":"a"}',
    headers: { 'content-type': 'application/json', 'connect-timeout-ms': '0' },
  },
  {
    name: 'timeout 0 put',
    path: P,
    body: '{"key":"t0","value":"x"}',
    headers: { 'content-type': 'application/json', 'connect-timeout-ms': '0' },
  },
  { name: 'get after timeout 0 put', path: G, body: '{"key":"t0"}' },
  { name: 'lone surrogate key get', path: G, body: '{"key":"\\ud800"}' },
  { name: 'lone surrogate key put', path: P, body: '{"key":"a\\udfff","value":"x"}' },
  { name: 'lone surrogate value', path: P, body: '{"key":"a","value":"\\ud83d"}' },
  { name: 'lone surrogate client id', path: P, body: '{"key":"a","value":"v","clientId":"\\ud800","seq":1}' },
  {
    name: 'not leader',
    path: G,
    body: '{"key":"a"}',
    setup: (b) => (b.followerOf = { leaderId: 'n2', leaderClientAddr: '127.0.0.1:7002' }),
  },
  { name: 'not leader put', path: P, body: '{"key":"a","value":"y"}' },
  { name: 'stale on follower', path: G, body: '{"key":"a","consistency":"STALE"}' },
  { name: 'back to leader', path: G, body: '{"key":"a"}', setup: (b) => (b.followerOf = undefined) },
];

function essence(a: RawAnswer): string {
  const keep = ['content-type', 'content-length', 'leasekv-leader', 'leasekv-leader-addr', 'leasekv-outcome'];
  const hs = keep.map((k) => `${k}: ${String(a.headers[k])}`).join('\n');
  return `${a.status}\n${hs}\n\n${a.body}`;
}

describe('fast path vs Connect path', () => {
  let fast: { server: ApiServer; backend: FakeBackend; port: number };
  let plain: { server: ApiServer; backend: FakeBackend; port: number };
  before(async () => {
    fast = await fakeServer({ limits, fastPath: true });
    plain = await fakeServer({ limits, fastPath: false });
  });
  after(async () => {
    await fast.server.close();
    await plain.server.close();
  });

  test('answers are byte-identical', async () => {
    for (const c of CASES) {
      c.setup?.(fast.backend);
      c.setup?.(plain.backend);
      const headers = c.headers ?? { 'content-type': 'application/json' };
      const a = await post(fast.port, c.path, c.body, headers);
      const b = await post(plain.port, c.path, c.body, headers);
      assert.equal(essence(a), essence(b), c.name);
    }
    const fp = fast.server.fastPath!;
    // Both kinds of request were exercised: answered by the fast path, and handed to Connect.
    assert.ok(fp.served >= 12, `served ${fp.served}`);
    assert.ok(fp.declined >= 8, `declined ${fp.declined}`);
    assert.equal(plain.server.fastPath, undefined);
    assert.equal(fast.backend.applied, plain.backend.applied);
  });
});
