// Membership (the node's side of the Cluster service) over a fake host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MembershipTable } from '../kv/members.ts';
import type { RaftStatus } from '../raft/index.ts';
import { ChangeRefusedError } from './cluster-backend.ts';
import { InvalidArgumentError } from './backend.ts';
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

test('MemberAdd refuses an address another member has (peer or client) and one that cannot be dialled, before proposing (session 11 audit)', async () => {
  const host = leaderHost(); // proposeConfChange throws: nothing may reach the core
  const initial = [
    { id: 'n1', peerAddr: '127.0.0.1:7101', clientAddr: '127.0.0.1:7001' },
    { id: 'n2', peerAddr: '127.0.0.1:7102', clientAddr: '127.0.0.1:7002' },
    { id: 'n3', peerAddr: '127.0.0.1:7103', clientAddr: '127.0.0.1:7003' },
  ];
  const m = new Membership(host, initial, new Set(['n1', 'n2', 'n3']));
  const add = (peerAddr: string, clientAddr: string): Promise<unknown> =>
    m.memberAdd({ id: 'n4', peerAddr, clientAddr, learner: false }, new AbortController().signal);
  await assert.rejects(
    add('127.0.0.1:7101', '127.0.0.1:7004'),
    (e: unknown) =>
      e instanceof ChangeRefusedError &&
      e.reason === 'address-in-use' &&
      /peer address 127\.0\.0\.1:7101 is n1's peer address: .*remove n1 first/.test(e.message),
  );
  await assert.rejects(
    add('127.0.0.1:7104', '127.0.0.1:7002'),
    (e: unknown) =>
      e instanceof ChangeRefusedError && /client address 127\.0\.0\.1:7002 is n2's client address/.test(e.message),
  );
  // The client port of a member given as the new one's peer port.
  await assert.rejects(
    add('127.0.0.1:7003', '127.0.0.1:7004'),
    (e: unknown) => e instanceof ChangeRefusedError && /is n3's client address/.test(e.message),
  );
  await assert.rejects(
    add('0.0.0.0:7104', '127.0.0.1:7004'),
    (e: unknown) => e instanceof InvalidArgumentError && /0\.0\.0\.0:7104 listens on every interface/.test(e.message),
  );
});

test('MemberAdd retried for a member it already added (same id, its own addresses) reaches the core, which answers already-member — not address-in-use against itself (chaos seed 700)', async () => {
  const host = leaderHost();
  const proposed: string[] = [];
  host.proposeConfChange = (cc) => {
    proposed.push(`${cc.kind} ${cc.id}`);
    return { ok: false, reason: 'already-member', message: `${cc.id} is already a learner`, leaderHint: null };
  };
  const initial = [
    { id: 'n1', peerAddr: '127.0.0.1:7101', clientAddr: '127.0.0.1:7001' },
    { id: 'n5', peerAddr: '127.0.0.1:7105', clientAddr: '127.0.0.1:7005' },
  ];
  const m = new Membership(host, initial, new Set(['n1', 'n2', 'n3']));
  await assert.rejects(
    m.memberAdd(
      { id: 'n5', peerAddr: '127.0.0.1:7105', clientAddr: '127.0.0.1:7005', learner: false },
      new AbortController().signal,
    ),
    (e: unknown) => e instanceof ChangeRefusedError && e.reason === 'already-member',
  );
  assert.deepEqual(proposed, ['add-learner n5']);
});
