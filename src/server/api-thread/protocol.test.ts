// answerBytes: what the node's thread weighs its answers by when it sends them in parts (turn-batch.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerBytes } from './protocol.ts';

test('answerBytes counts the keys and values an answer carries, and nothing else', () => {
  const kv = (key: string, value: string) => ({ key, value, create: 1, mod: 1, version: 1 });
  assert.equal(answerBytes({ t: 'ok', id: 1, v: { found: true, value: 'x'.repeat(1000), index: 3 } }), 1000);
  assert.equal(answerBytes({ t: 'ok', id: 1, v: { kvs: [kv('ab', 'cde'), kv('f', '')], more: false } }), 6);
  const txn = {
    succeeded: true,
    results: [
      { op: 'get', kv: kv('k', 'vv') },
      { op: 'range', kvs: [kv('a', 'b')] },
    ],
  };
  assert.equal(answerBytes({ t: 'ok', id: 1, v: txn }), 5);
  const batch = { revision: 2, events: [{ type: 'put' as const, kv: kv('k', 'new'), prev: kv('k', 'old') }] };
  assert.equal(answerBytes({ t: 'wbatch', id: 1, b: batch }), 8);
  assert.equal(answerBytes({ t: 'ok', id: 1, v: { index: 3, revision: 2 } }), 0);
  assert.equal(answerBytes({ t: 'ok', id: 1, v: undefined }), 0);
  assert.equal(answerBytes({ t: 'err', id: 1, e: { name: 'Error', message: 'x'.repeat(99), fields: {} } }), 0);
});
