// The client library's TTL grant calls against an API server over a fake backend (issue 14), and
// the API's answers for bad TTLs and ended grants. (Under cli/: only cli imports client and server.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeasekvClient, type LeasekvError } from '../client/index.ts';
import { fakeServer, post } from '../server/api/test-util.ts';

test('grant, attach, keep alive, revoke; clear errors for a bad TTL and an ended grant', async () => {
  const { server, backend, port } = await fakeServer();
  const client = new LeasekvClient({ endpoints: [`127.0.0.1:${port}`] });
  try {
    const g = await client.ttlGrant(1500);
    assert.equal(g.ttlMs, 1500);
    await client.put('svc/a', '1', { ttlId: g.id });
    assert.deepEqual(await client.ttlKeepAlive(g.id), { id: g.id, ttlMs: 1500 });
    const stop = new AbortController();
    const loop = client.ttlKeepAliveLoop(g.id, 1500, stop.signal);
    stop.abort();
    await loop;
    assert.deepEqual(await client.ttlRevoke(g.id), { found: true, revision: 2 });
    assert.equal(backend.data.has('svc/a'), false, 'revoking deletes the attached key');
    assert.equal((await client.ttlRevoke(g.id)).found, false);
    await assert.rejects(
      client.ttlKeepAlive(g.id),
      (e: LeasekvError) => e.code === 'not_found' && /ttl grant \d+ not found/.test(e.message),
    );
    await assert.rejects(client.put('svc/b', '1', { ttlId: g.id }), (e: LeasekvError) => e.code === 'not_found');
    const bad = await post(port, '/leasekv.v1.KV/TtlGrant', '{"ttlMs":0}');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /ttl_ms must be in 1\.\.86400000, got 0/);
  } finally {
    await client.close();
    await server.close();
  }
});
