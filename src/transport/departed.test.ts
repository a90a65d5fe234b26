// A member removed while cut off never receives its removal entry: it goes on campaigning. Found by
// the session 11 operator audit (docs/benchmarks.md): the leader kept the removed members' inbound
// connections, processed their pre-votes and wrote "dropping message to unknown node" for every
// answer, several lines a second for as long as the removed processes ran.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { get, heartbeat, startMesh } from './test-helpers.ts';
import { waitFor } from '../testkit/wait.ts';
import { encodeRemovedCode, parseRemovedCode, type RemovalNotice } from './removal-notice.ts';

test('a peer dropped by setPeers loses its connection to this node and is refused on redial; answers to it are logged once', async () => {
  const nodes = await startMesh(['a', 'b']);
  const a = get(nodes, 'a');
  const b = get(nodes, 'b');
  try {
    b.t.send([heartbeat('b', 'a', 1)]);
    await waitFor('b reaches a', 5000, () => a.got.length >= 1, { intervalMs: 2 });
    a.t.setPeers(new Map()); // b removed from a's configuration (after the departing grace)
    await waitFor('b is refused when it redials', 10_000, () => {
      b.t.send([heartbeat('b', 'a', 2)]);
      return b.logs.some(
        (l) => l.msg === "node a refused this node's connection" && /is not a member/.test(JSON.stringify(l.fields)),
      );
    });
    const before = a.got.length;
    for (let i = 0; i < 20; i++) b.t.send([heartbeat('b', 'a', 3 + i)]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.got.length, before, 'nothing from b is delivered once it is no longer a peer');
    for (let i = 0; i < 50; i++) a.t.send([heartbeat('a', 'b', i)]);
    assert.equal(a.logs.filter((l) => l.msg === 'dropping message to unknown node').length, 1);
    assert.equal(a.t.stats().unknownPeerDrops, 50);
  } finally {
    for (const n of nodes.values()) await n.t.stop();
  }
});

test('a peer whose committed membership lists the dialler as removed refuses it with a removal notice the dialler is told of', async () => {
  const notices: { peer: string; notice: RemovalNotice; reason: string }[] = [];
  const nodes = await startMesh(['a', 'b'], {
    identity: {
      clusterUid: 'c0ffee',
      incarnation: 'i1',
      verify: () => null,
      onRefused() {},
      onRemoved: (peer, notice, reason) => void notices.push({ peer, notice, reason }),
    },
  });
  const a = get(nodes, 'a');
  try {
    a.t.setRemovalJudge((peer) => (peer === 'b' ? { index: 42, byLeader: true } : null));
    a.t.setPeers(new Map());
    await waitFor('b is told it was removed', 10_000, () => notices.length > 0, { intervalMs: 5 });
    assert.deepEqual(notices[0]?.notice, { clusterUid: 'c0ffee', member: 'b', index: 42, byLeader: true });
    assert.equal(notices[0]?.peer, 'a');
    assert.match(notices[0]?.reason ?? '', /node b was removed from this cluster .*index 42/);
  } finally {
    for (const n of nodes.values()) await n.t.stop();
  }
});

test('removal notices: only the exact form is read', () => {
  const n = { clusterUid: 'abc', member: 'n1', index: 7, byLeader: false };
  assert.deepEqual(parseRemovedCode(encodeRemovedCode(n)), n);
  for (const bad of [
    'removed',
    'removed abc n1 7',
    'removed abc n1 0 leader',
    'removed abc n1 07 leader',
    'removed  n1 7 leader',
    'removed abc n1 7 boss',
    'identity',
    'removed abc n1 7 leader x',
    'removed abc n1 1e3 leader',
  ])
    assert.equal(parseRemovedCode(bad), null, bad);
});
