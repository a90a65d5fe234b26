// A member that knows it was removed answers every request `unavailable` with the reason until it has
// stopped (start-removal.ts marks it; the client library then asks another endpoint).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSoloNode } from './test-node.ts';

test('once marked removed, the node answers requests unavailable, naming the removal', async () => {
  const solo = await startSoloNode('removed-answers');
  try {
    const ok = await solo.call('Put', { key: 'k', value: 'v' });
    assert.equal(typeof ok['revision'], 'string', JSON.stringify(ok));
    solo.running.node.markRemoved('this member has been removed from the cluster (index 9): ask another member');
    const refused = await solo.call('Put', { key: 'k', value: 'w' });
    assert.equal(refused['code'], 'unavailable', JSON.stringify(refused));
    assert.match(String(refused['message']), /this member has been removed from the cluster \(index 9\)/);
  } finally {
    await solo.stop();
  }
});
