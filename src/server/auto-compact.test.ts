// Automatic compaction (issue 14): the policy on a simulated clock, and on a real single-member node
// a watcher resuming from a revision the leader compacted away gets the clear `compacted` error.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSoloNode, type SoloNode } from './test-node.ts';
import { readSse } from '../testkit/sse.ts';
import { checkIntervalMs, CompactionPolicy } from './auto-compact.ts';
import { buildNodeConfig, NodeConfigError } from './config.ts';

describe('CompactionPolicy', () => {
  test('by count: keeps the last N revisions, compacting once a tenth of N has piled up', () => {
    const p = new CompactionPolicy({ maxAgeMs: 0, maxRevisions: 100 });
    assert.equal(p.decide(0, true, 100, 0), null, 'nothing beyond N yet');
    assert.equal(p.decide(1, true, 108, 0), null, 'less than N/10 to cut');
    assert.equal(p.decide(2, true, 109, 0), 10, 'revisions 10..109 are kept');
    assert.equal(p.decide(3, true, 118, 10), null);
    assert.equal(p.decide(4, true, 119, 10), 20);
    assert.equal(p.decide(5, false, 500, 22), null, 'a follower never decides');
  });

  test('by age: only revisions the leader has seen for longer than the age; a new leader starts over', () => {
    const p = new CompactionPolicy({ maxAgeMs: 1000, maxRevisions: 0 });
    assert.equal(p.decide(0, true, 50, 0), null);
    assert.equal(p.decide(500, true, 80, 0), null);
    assert.equal(p.decide(1000, true, 90, 0), 50, 'revision 50 was current 1000 ms ago: all before it are older');
    assert.equal(p.decide(1200, true, 95, 50), null);
    assert.equal(p.decide(1500, true, 99, 50), 80);
    // Leadership lost and regained: no samples, so nothing is cut until it has led for the age again.
    assert.equal(p.decide(1600, false, 99, 80), null);
    assert.equal(p.decide(1700, true, 120, 80), null);
    assert.equal(p.decide(2600, true, 130, 80), null);
    assert.equal(p.decide(2700, true, 140, 80), 120);
  });

  test('both: whichever cuts more; neither: off', () => {
    const p = new CompactionPolicy({ maxAgeMs: 1000, maxRevisions: 10 });
    assert.equal(p.decide(0, true, 5, 0), null);
    assert.equal(p.decide(1000, true, 200, 0), 191, 'count cuts more than age (5)');
    const off = new CompactionPolicy({ maxAgeMs: 0, maxRevisions: 0 });
    assert.equal(off.enabled, false);
    assert.equal(off.decide(0, true, 1_000_000, 0), null);
    assert.equal(checkIntervalMs({ maxAgeMs: 3_600_000, maxRevisions: 0 }), 5000);
    assert.equal(checkIntervalMs({ maxAgeMs: 0, maxRevisions: 10 }), 1000);
  });
});

const base = {
  id: 'n1',
  listenPeer: '127.0.0.1:0',
  peers: 'n1=127.0.0.1:1',
  heartbeatMs: '100',
  electionTimeoutMs: '600',
  leaseMs: '500',
  logLevel: 'silent',
} as const;

test('config: defaults one hour by age, not by count; bad values are refused', () => {
  const cfg = buildNodeConfig({ ...base, dataDir: '/tmp/x', listenClient: '127.0.0.1:1' });
  assert.deepEqual(cfg.autoCompaction, { maxAgeMs: 3_600_000, maxRevisions: 0 });
  assert.throws(
    () => buildNodeConfig({ ...base, dataDir: '/tmp/x', listenClient: '127.0.0.1:1', autoCompactionRevisions: '-1' }),
    (e: unknown) => e instanceof NodeConfigError && /--auto-compaction-revisions/.test(e.message),
  );
});

describe('on a real node', () => {
  let solo: SoloNode | undefined;
  let port = 0;

  before(async () => {
    solo = await startSoloNode('autocompact', { autoCompactionRevisions: '5', autoCompactionAgeMs: '0' });
    port = solo.port;
  });

  after(() => solo?.stop());

  const call = (method: string, body: object): Promise<Record<string, unknown>> =>
    (solo as SoloNode).call(method, body);

  const firstSseBlock = async (path: string): Promise<string> =>
    (await readSse(port, path, (blocks) => blocks.length >= 1)).blocks[0] ?? '';

  test('the leader compacts by count through the log; a watcher resuming before it gets compacted', async () => {
    const first = Number((await call('Put', { key: 'ac/a', value: '0' }))['revision']);
    let last = first;
    for (let i = 1; i < 20; i++) last = Number((await call('Put', { key: 'ac/a', value: String(i) }))['revision']);
    // The leader looks once a second; bounded wait for its Compact to be applied.
    let compactRevision = 0;
    for (let i = 0; i < 100 && compactRevision === 0; i++) {
      const r = await call('Range', { prefix: 'ac/', revision: first });
      if (r['code'] === 'out_of_range') compactRevision = 1;
      else await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(compactRevision, 1, `revision ${first} was compacted automatically`);
    const block = await firstSseBlock(`/v1/watch?key=ac/&prefix=true&rev=${first}`);
    assert.match(
      block,
      /^event: error\ndata: \{"code":"out_of_range","message":"compacted: revision \d+ has been compacted/,
    );
    // The last five revisions are still there.
    const recent = await call('Range', { prefix: 'ac/', revision: last - 4 });
    assert.equal(recent['revision'], String(last - 4));
  });
});
