// Lease reads answered on the client API thread from shared memory (lease-view.ts), on a real
// one-member node: each read sees every write acknowledged before it, whichever path answers it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSoloNode, type SoloNode } from '../test-node.ts';
import { waitFor } from '../../testkit/wait.ts';
import type { ApiThread } from './host.ts';

let solo: SoloNode | undefined;

before(async () => {
  solo = await startSoloNode('local-reads', { apiThread: 'on' });
});

after(() => solo?.stop());

/**
 * A Get answered under the lease. On a loaded machine the solo node's lease can lapse (its loop
 * stalled past it) and a read is then answered by ReadIndex: asked again until the lease is back.
 */
async function read(key: string): Promise<{ found: boolean; value: string; revision: number }> {
  let last: Record<string, unknown> = {};
  const j = await waitFor('a read answered under the lease', 30_000, async () => {
    last = await (solo as SoloNode).call('Get', { key });
    return last['readMode'] === 'READ_MODE_LEASE' ? last : undefined;
  }).catch(() => assert.fail(`no lease read within 30 s: ${JSON.stringify(last)}`));
  return { found: j['found'] === true, value: String(j['value']), revision: Number(j['revision']) };
}

test('every lease read reflects the writes acknowledged before it, and repeated reads are answered on the API thread', async () => {
  const s = solo as SoloNode;
  const api = s.running.api as ApiThread;
  let lastRevision = 0;
  for (let i = 0; i < 40; i++) {
    const value = `v${i}`;
    const put = await s.call('Put', { key: 'k', value: value });
    assert.ok(put['revision'] !== undefined, JSON.stringify(put));
    // Another key changes too: its stamp must not hide k's value, nor k's hide it.
    if (i % 3 === 0) await s.call('Put', { key: `other${i % 2}`, value: value });
    for (let n = 0; n < 3; n++) {
      const got = await read('k');
      assert.equal(got.value, value, `read ${n} after write ${i}`);
      assert.ok(got.revision >= lastRevision, 'revisions never go back');
      lastRevision = got.revision;
    }
    if (i % 5 === 4) {
      await s.call('Delete', { key: 'k' });
      const got = await read('k');
      assert.equal(got.found, false, `deleted after write ${i}`);
    }
  }
  // Two of every three reads of an unchanged key can be answered there. The API thread publishes
  // its counters on a timer, so wait for them to catch up rather than take the first non-zero one.
  const want = 20;
  let served = 0;
  await waitFor('lease reads answered on the API thread', 30_000, () => {
    served = api.stats().localLeaseReads;
    return served >= want;
  }).catch(() => assert.fail(`only ${served} reads answered on the API thread (want >= ${want})`));
});
