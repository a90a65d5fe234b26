// A member tells its client API thread of a change to users and roles as it applies it (session 9:
// 'auth-table' from node-drive.ts, sent on by api-thread/host.ts), not on a 20 ms poll: enabling
// auth through the log is in force on the API thread before the next request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post } from './api/test-util.ts';
import { startSoloNode } from './test-node.ts';

test("an auth change applied by the member emits 'auth-table' and is in force for the API thread's next request", async () => {
  const solo = await startSoloNode('auth-sync');
  try {
    const put = await solo.call('Put', { key: 'a', value: '1' }); // elected, auth off
    assert.equal(put['code'], undefined, JSON.stringify(put));
    let told = 0;
    solo.running.node.events.on('auth-table', () => told++);
    const { node } = solo.running;
    const root = { salt: 'c2FsdA==', hash: 'aGFzaA==' };
    await node.authChange(
      { kind: 'enable', root, signingKey: Buffer.alloc(32, 7).toString('base64') },
      AbortSignal.timeout(10_000),
    );
    assert.equal(told, 1, 'told once, as the change was applied');
    const r = await post(solo.port, '/leasekv.v1.KV/Get', JSON.stringify({ key: 'a' }));
    assert.equal(r.status, 401, r.body);
  } finally {
    await solo.stop();
  }
});
