// A storage error on a running node, in process (issue 13): the write in flight is answered
// `unavailable` with outcome unknown, reads stop too, the node reports 'fatal' once and stops
// without a rejection. The same with a real full disk: itest/disk-full.test.ts (needs root).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { post } from './api/test-util.ts';
import { buildNodeConfig } from './config.ts';
import { startNode } from './start.ts';
import type { NodeStorage } from './storage-adapter.ts';
import { freePorts, sleep } from '../testkit/wait.ts';

test('ENOSPC while persisting: the in-flight write gets unavailable + outcome unknown, reads are refused, one fatal, a clean stop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-enospc-'));
  const [peer, client] = await freePorts(2);
  const cfg = buildNodeConfig({
    id: 'n1',
    dataDir: dir,
    listenPeer: `127.0.0.1:${peer}`,
    listenClient: `127.0.0.1:${client}`,
    peers: `n1=127.0.0.1:${peer}`,
    heartbeatMs: '50',
    electionTimeoutMs: '200',
    logLevel: 'silent',
  });
  let failing = false;
  const wrap = (s: NodeStorage): NodeStorage => ({
    persist: (req) =>
      failing && req.entries.length > 0
        ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))
        : s.persist(req),
    saveSnapshot: (m, d) => s.saveSnapshot(m, d),
    saveSnapshotBody: (m, b) => s.saveSnapshotBody(m, b),
    loadSnapshot: () => s.loadSnapshot(),
    readEntries: (lo, hi, maxBytes) => s.readEntries(lo, hi, maxBytes),
    close: () => s.close(),
    drainFsyncLatenciesMs: () => s.drainFsyncLatenciesMs(),
  });
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const node = await startNode(cfg, { logger, wrapStorage: wrap });
  const fatals: unknown[] = [];
  node.node.events.on('fatal', (e: unknown) => fatals.push(e));
  try {
    const put = (k: string): ReturnType<typeof post> =>
      post(node.api.port, '/leasekv.v1.KV/Put', JSON.stringify({ key: k, value: 'v' }));
    const end = Date.now() + 20_000;
    while ((await put('first')).status !== 200) {
      assert.ok(Date.now() < end, 'no leader');
      await sleep(50);
    }
    failing = true;
    const r = await put('second');
    assert.equal(r.status, 503, r.body);
    assert.equal(r.headers['leasekv-outcome'], 'unknown');
    assert.match(r.body, /"code":"unavailable".*storage error.*ENOSPC/);
    // Lease reads do not continue: the node has stopped serving.
    const g = await post(node.api.port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'first' })).catch(() => null);
    assert.ok(g === null || g.status === 503, g?.body);
    assert.equal(fatals.length, 1);
    const why = lines.filter((l) => /storage error/.test(l));
    assert.equal(why.length, 1, lines.join(''));
    assert.match(why[0]!, /"level":60.*ENOSPC: no space left on device/);
  } finally {
    await node.stop(); // must not reject
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a storage error while starting (a peer's vote persisted before the API listens) is 'fatal' once serving, not lost", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-enospc-start-'));
  const [peer, client] = await freePorts(2);
  const cfg = buildNodeConfig({
    id: 'n1',
    dataDir: dir,
    listenPeer: `127.0.0.1:${peer}`,
    listenClient: `127.0.0.1:${client}`,
    peers: `n1=127.0.0.1:${peer}`,
    logLevel: 'silent',
  });
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  // The routes are built after the transport listens and before the API does: the node's own
  // 'fatal' at that point stands for a persist that failed then (chaos run, session 13).
  const node = await startNode(cfg, {
    routes: (n) => {
      n.events.emit('fatal', enospc);
      return [];
    },
  });
  try {
    const fatals: unknown[] = [];
    node.node.events.on('fatal', (e: unknown) => fatals.push(e));
    await sleep(50);
    assert.deepEqual(fatals, [enospc]);
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
