// Range at a past revision and Compact (issue 14) on a real single-member node, in-process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSoloNode, type SoloNode } from './test-node.ts';

let solo: SoloNode | undefined;

before(async () => {
  solo = await startSoloNode('revread');
});

after(() => solo?.stop());

const call = (method: string, body: object): Promise<Record<string, unknown>> => (solo as SoloNode).call(method, body);

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

  // A future revision is refused, not clamped to the current one (which would compact everything).
  const ahead = await call('Compact', { revision: r3 + 100 });
  assert.equal(ahead['code'], 'out_of_range', JSON.stringify(ahead));
  assert.match(String(ahead['message']), /revision \d+ is in the future/);
  assert.deepEqual(keys(await call('Range', { prefix: 'p/', revision: r1 })), ['p/a=1'], 'nothing was compacted');
  const c = await call('Compact', { revision: r3 });
  assert.equal(c['compactRevision'], String(r3));
  const old = await call('Range', { prefix: 'p/', revision: r1 });
  assert.equal(old['code'], 'out_of_range');
  assert.match(String(old['message']), /compacted/);
  assert.deepEqual(keys(await call('Range', { prefix: 'p/', revision: r3 })), ['p/a=2', 'p/b=1']);
});
