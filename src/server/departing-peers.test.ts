import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DepartingPeers } from './departing-peers.ts';

const m = (...ids: string[]): Map<string, string> => new Map(ids.map((id) => [id, `${id}:7101`]));

test('departing peers: a removed member stays linked for the grace period, then is dropped', () => {
  const d = new DepartingPeers<string>(1000);
  assert.deepEqual([...d.next(m('n2', 'n3', 'n4'), 0).peers.keys()], ['n2', 'n3', 'n4']);
  const during = d.next(m('n2', 'n3'), 100);
  assert.deepEqual([...during.peers.keys()].sort(), ['n2', 'n3', 'n4']);
  assert.equal(during.recheckAtMs, 1100);
  // A later change does not restart n4's grace.
  assert.equal(d.next(m('n2', 'n3'), 600).recheckAtMs, 1100);
  const afterGrace = d.next(m('n2', 'n3'), 1100);
  assert.deepEqual([...afterGrace.peers.keys()].sort(), ['n2', 'n3']);
  assert.equal(afterGrace.recheckAtMs, null);
});

test('departing peers: a member back in the configuration (a re-added learner) is a peer again, not departing', () => {
  const d = new DepartingPeers<string>(1000);
  d.next(m('n2', 'n3'), 0);
  d.next(m('n2'), 10);
  const back = d.next(m('n2', 'n3'), 20);
  assert.equal(back.recheckAtMs, null);
  assert.deepEqual([...d.next(m('n2', 'n3'), 5000).peers.keys()].sort(), ['n2', 'n3']);
});
