// GET /health: what "healthy" means (docs/api.md, "Health"), one condition at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { RaftStatus } from '../raft/node.ts';
import { healthOf, healthRoute, MAX_APPLY_LAG_ENTRIES } from './health.ts';

const LEADER: RaftStatus = {
  id: 'n1',
  role: 'leader',
  term: 3,
  leader: 'n1',
  votedFor: 'n1',
  commit: 500,
  lastIndex: 500,
  leaseHeld: true,
  leaseRemainingMs: 700.4,
  oldLeaseRemainingMs: 0,
  waitingForOldLease: false,
  restartHoldRemainingMs: 0,
  transferTarget: null,
  progress: {},
  confState: { voters: ['n1', 'n2', 'n3'], learners: [] },
  confIndex: 0,
  confCommitted: true,
};
const FOLLOWER: RaftStatus = {
  ...LEADER,
  id: 'n2',
  role: 'follower',
  votedFor: null,
  leaseHeld: false,
  leaseRemainingMs: 0,
  oldLeaseRemainingMs: 650,
};

function source(st: RaftStatus, applied = st.commit, running = true): Parameters<typeof healthOf>[0] {
  return { raftStatus: () => ({ ...st, applied, nowMs: 0 }), running };
}

test('health: a leader holding its lease and a follower knowing it, both caught up, are healthy', () => {
  const l = healthOf(source(LEADER));
  assert.deepEqual(
    [l.health, l.reason, l.leader, l.leaseValid, l.leaseRemainingMs, l.caughtUp],
    [true, '', 'n1', true, 700, true],
  );
  const f = healthOf(source(FOLLOWER, 500 - MAX_APPLY_LAG_ENTRIES));
  assert.deepEqual([f.health, f.leader, f.leaseValid, f.leaseRemainingMs, f.caughtUp], [true, 'n1', true, 650, true]);
});

test('health: each failed condition makes it unhealthy and is named in the reason', () => {
  const cases: [string, Parameters<typeof healthOf>[0], RegExp][] = [
    ['no leader', source({ ...FOLLOWER, leader: null, oldLeaseRemainingMs: 0 }), /no leader known/],
    [
      'candidate',
      source({ ...FOLLOWER, role: 'candidate', leader: null }),
      /no leader known; no valid leader lease known/,
    ],
    [
      'new leader waiting out the old lease',
      source({ ...LEADER, leaseHeld: false, leaseRemainingMs: 0, waitingForOldLease: true }),
      /leader holds no valid lease/,
    ],
    [
      'follower whose leader went quiet',
      source({ ...FOLLOWER, oldLeaseRemainingMs: 0 }),
      /no valid leader lease known/,
    ],
    [
      'applied far behind commit',
      source(FOLLOWER, 500 - MAX_APPLY_LAG_ENTRIES - 1),
      /applied index 399 trails commit index 500/,
    ],
    ['stopped', source(LEADER, 500, false), /node stopped/],
  ];
  for (const [name, src, reason] of cases) {
    const h = healthOf(src);
    assert.equal(h.health, false, name);
    assert.match(h.reason, reason, name);
  }
});

test('health route: 200 when healthy, 503 when not, JSON body either way', () => {
  const answer = (src: Parameters<typeof healthOf>[0]): { status: number; body: Record<string, unknown> } => {
    let status = 0;
    let body = '';
    const res = { writeHead: (s: number) => (status = s), end: (b: string) => (body = b) } as unknown as ServerResponse;
    healthRoute(src).handler({} as never, res);
    return { status, body: JSON.parse(body) as Record<string, unknown> };
  };
  const ok = answer(source(LEADER));
  assert.equal(ok.status, 200);
  assert.equal(ok.body['health'], true);
  assert.equal(ok.body['appliedIndex'], 500);
  const bad = answer(source({ ...FOLLOWER, leader: null }));
  assert.equal(bad.status, 503);
  assert.equal(bad.body['health'], false);
});
