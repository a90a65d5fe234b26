// The trust rule for removal notices (removal.ts): a member exits only on a notice it can believe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { judgeNotice, MemberRemovedError, RemovalWatch } from './removal.ts';
import type { RemovalNotice } from '../transport/removal-notice.ts';

const self = { id: 'n1', clusterUid: 'c1', commit: 10 };
const notice = (over: Partial<RemovalNotice> = {}): RemovalNotice => ({
  clusterUid: 'c1',
  member: 'n1',
  index: 12,
  byLeader: false,
  ...over,
});

test('the leader alone, or two members, are believed; one member is not', () => {
  assert.equal(judgeNotice(self, new Map(), 'n2', notice({ byLeader: true })).removed, true);
  assert.equal(judgeNotice(self, new Map(), 'n2', notice()).removed, false);
  assert.equal(judgeNotice(self, new Map([['n2', notice()]]), 'n2', notice()).removed, false, 'the same peer twice');
  assert.equal(judgeNotice(self, new Map([['n2', notice()]]), 'n3', notice()).removed, true);
});

test('a notice about another member, another cluster, or one its own log decides is set aside', () => {
  for (const [n, why] of [
    [notice({ member: 'n9', byLeader: true }), /names n9/],
    [notice({ clusterUid: 'other', byLeader: true }), /cluster other/],
    [notice({ index: 10, byLeader: true }), /own log decides/],
  ] as const) {
    const v = judgeNotice(self, new Map(), 'n2', n);
    assert.equal(v.removed, false);
    assert.match(v.ignored, why);
  }
});

test('RemovalWatch decides once, naming the index and who said it; set-aside notices do not count', () => {
  const got: MemberRemovedError[] = [];
  const w = new RemovalWatch({
    selfId: 'n1',
    clusterUid: 'c1',
    commit: () => 10,
    log: pino({ level: 'silent' }),
    onRemoved: (e) => got.push(e),
  });
  w.notice('n2', notice({ clusterUid: 'other' }));
  w.notice('n3', notice({ index: 15 }));
  assert.equal(got.length, 0, 'one member, the other notice not believed');
  w.notice('n4', notice({ index: 14 }));
  w.notice('n2', notice({ byLeader: true }));
  assert.equal(got.length, 1);
  assert.ok(w.removed);
  assert.match(got[0]?.message ?? '', /\(n1\) has been permanently removed from cluster c1 .*index 14, as n3, n4 said/);
  assert.match(got[0]?.message ?? '', /its id can never rejoin/);
});
