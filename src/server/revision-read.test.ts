// Range at a past revision and Compact (issue 14) on a real single-member node, in-process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { post } from './api/test-util.ts';
import { buildNodeConfig } from './config.ts';
import { startNode, type RunningNode } from './start.ts';
import { freePort, sleep } from '../testkit/wait.ts';

let dir = '';
let running: RunningNode | undefined;
let port = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leasekv-revread-'));
  const cfg = buildNodeConfig({
    id: 'n1',
    dataDir: dir,
    listenPeer: '127.0.0.1:0',
    listenClient: `127.0.0.1:${await freePort()}`,
    peers: 'n1=127.0.0.1:1',
    heartbeatMs: '100',
    electionTimeoutMs: '600',
    leaseMs: '500',
    logLevel: 'silent',
  });
  running = await startNode(cfg, { logger: pino({ level: 'silent' }) });
  port = running.api.port;
});

after(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, body: object): Promise<Record<string, unknown>> {
  for (let i = 0; ; i++) {
    const r = await post(port, `/leasekv.v1.KV/${method}`, JSON.stringify(body));
    const j = JSON.parse(r.body) as Record<string, unknown>;
    // The single member elects itself shortly after start.
    if (j['code'] === 'failed_precondition' && i < 100) {
      await sleep(50);
      continue;
    }
    return j;
  }
}

const keys = (j: Record<string, unknown>): string[] =>
  (j['kvs'] as { key: string; value: string }[]).map((kv) => `${kv.key}=${kv.value}`);

test('Range at a past revision: the keys as they were; compacted and future revisions refused', async () => {
  const r1 = Number((await call('Put', { key: 'p/a', value: '1' }))['revision']);
  await call('Put', { key: 'p/b', value: '1' });
  const r3 = Number((await call('Put', { key: 'p/a', value: '2' }))['revision']);
  await call('Delete', { key: 'p/b' });
  await call('Put', { key: 'p/c', value: '1' });
  assert.deepEqual(keys(await call('Range', { prefix: 'p/' })), ['p/a=2', 'p/c=1']);
  assert.deepEqual(keys(await call('Range', { prefix: 'p/', revision: r1 })), ['p/a=1']);
  assert.deepEqual(keys(await call('Range', { prefix: 'p/', revision: r1 + 1 })), ['p/a=1', 'p/b=1']);
  const atR3 = await call('Range', { prefix: 'p/', revision: r3, limit: 1 });
  assert.deepEqual([keys(atR3), atR3['more'], atR3['revision']], [['p/a=2'], true, String(r3)]);
  const future = await call('Range', { prefix: 'p/', revision: r3 + 100 });
  assert.equal(future['code'], 'out_of_range');
  assert.match(String(future['message']), /in the future/);

  const c = await call('Compact', { revision: r3 });
  assert.equal(c['compactRevision'], String(r3));
  const old = await call('Range', { prefix: 'p/', revision: r1 });
  assert.equal(old['code'], 'out_of_range');
  assert.match(String(old['message']), /compacted/);
  assert.deepEqual(keys(await call('Range', { prefix: 'p/', revision: r3 })), ['p/a=2', 'p/b=1']);
});
