// Membership (the node's side of the Cluster service) over a fake host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MembershipTable } from '../kv/members.ts';
import type { RaftStatus } from '../raft/index.ts';
import { ChangeRefusedError } from './cluster-backend.ts';
import { Membership, type MembershipHost } from './membership.ts';

function leaderHost(): MembershipHost & { transfers: (string | null)[] } {
  const transfers: (string | null)[] = [];
  const status = {
    role: 'leader',
    leader: 'n1',
    confState: { voters: ['n1', 'n2', 'n3'], learners: ['n5'], removed: [] },
  } as unknown as RaftStatus;
  return {
    transfers,
    selfId: 'n1',
    clusterId: 'c',
    heartbeatIntervalMs: 100,
    raftStatus: () => status,
    proposeConfChange: () => {
      throw new Error('not expected');
    },
    transferLeadership: (t) => {
      transfers.push(t);
      return false;
    },
    waitApplied: () => Promise.resolve(),
    table: () => new MembershipTable(),
    notLeader: () => new Error('not leader'),
  };
}

test('TransferLeadership to an id that is not a member is refused as unknown-member (an answer, not retried), without starting a transfer', async () => {
  const host = leaderHost();
  const m = new Membership(host, [], new Set(['n1', 'n2', 'n3']));
  await assert.rejects(
    m.transferLeadership('n9', new AbortController().signal),
    (e: unknown) =>
      e instanceof ChangeRefusedError && e.reason === 'unknown-member' && /n9 is not a member/.test(e.message),
  );
  assert.deepEqual(host.transfers, []);
  // A member that cannot take over yet is still not-caught-up (passes once it has caught up).
  await assert.rejects(
    m.transferLeadership('n2', new AbortController().signal),
    (e: unknown) => e instanceof ChangeRefusedError && e.reason === 'not-caught-up',
  );
  assert.deepEqual(host.transfers, ['n2']);
});
