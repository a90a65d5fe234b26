// LeaseKvNode.putCommand (a Put the client API thread encoded, api-thread/put-pack.ts): the bytes are
// the entry, applied like any Put; the answer and the 'request' event are putQuick's; a refused Put
// is answered with putQuick's error, once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCommand } from '../kv/command.ts';
import { UnavailableError, type PutResult } from './backend.ts';
import { startSoloNode } from './test-node.ts';

function putCommand(
  node: { putCommand(cmd: Uint8Array, timeoutMs: number, done: (err: unknown, r: PutResult | null) => void): void },
  key: string,
  value: string,
): Promise<PutResult> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    node.putCommand(encodeCommand({ op: 'put', key, value }), 5_000, (err, r) => {
      assert.equal(++calls, 1, 'done is called once');
      if (r !== null) resolve(r);
      else reject(err as Error);
    });
  });
}

test('putCommand applies the encoded Put and answers as putQuick does', async () => {
  const solo = await startSoloNode('put-command');
  try {
    // Elected: the first write through the API answers.
    await solo.call('Put', { key: 'first', value: '0' });
    const node = solo.running.node;
    const events: unknown[][] = [];
    node.events.on('request', (...a: unknown[]) => events.push(a));
    const a = await putCommand(node, 'k', 'é'.repeat(100));
    const b = await node.putQuick({ key: 'k2', value: 'w' }, 5_000);
    assert.deepEqual([b.index - a.index, b.revision - a.revision], [1, 1]);
    const got = await node.get({ key: 'k', consistency: 'linearizable' }, new AbortController().signal);
    assert.equal(got.value, 'é'.repeat(100));
    assert.equal(got.modRevision, a.revision);
    assert.deepEqual(
      events.filter((e) => e[0] === 'Put').map((e) => [e[0], e[1], e[3]]),
      [
        ['Put', 'write', true],
        ['Put', 'write', true],
      ],
    );
    node.markRemoved('removed (test)');
    await assert.rejects(putCommand(node, 'k', 'x'), (e) => e instanceof UnavailableError && /removed/.test(e.message));
  } finally {
    await solo.stop();
  }
});
