import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './testkit.ts';

test('smoke: elect, replicate, lease', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  const l = c.electFirst();
  assert.equal(l, 'a');
  const idx = c.propose('a', 'x=1');
  c.run(200);
  for (const id of c.ids) assert.ok(c.get(id).applied.some((e) => e.index === idx), `${id} applied`);
  assert.equal(c.node('a').isLeaseValid(c.get('a').nowMs), true);
  assert.ok((c.leaseRead('a') ?? 0) >= idx);
  console.log(c.get('a').events.map((e) => JSON.stringify(e)).join('\n'));
});
