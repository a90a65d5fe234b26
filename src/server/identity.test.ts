// The identity record at start (docs/storage.md "Cluster identity"): bootstrap, a restart that must
// agree, join, and the handshake's incarnation check.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readIdentity } from '../storage/identity.ts';
import { buildNodeConfig, rawFromArgs } from './config.ts';
import {
  checkFlags,
  clusterIdFor,
  membersOf,
  refuseDataDirWithoutData,
  resolveIdentity,
  StartRefusedError,
} from './identity.ts';
import { startNode } from './start.ts';
import type { JoinInfo } from './join.ts';

const THREE = 'n1=10.0.0.1:7101,n2=10.0.0.2:7101,n3=10.0.0.3:7101';

function dir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'leasekv-identity-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function cfg(d: string, ...extra: string[]) {
  return buildNodeConfig(
    rawFromArgs(
      ['--id', 'n1', '--data-dir', d, '--listen-peer', '0.0.0.0:7101', '--listen-client', '0.0.0.0:7001', ...extra],
      {},
    ),
  );
}

const refused = (re: RegExp) => (e: unknown) => e instanceof StartRefusedError && re.test(e.message);

test('bootstrap records the identity; a restart takes its members from it and refuses other flags', (t) => {
  const d = dir(t);
  const first = resolveIdentity(cfg(d, '--peers', THREE), true, null);
  assert.equal(first.book.createdNow, true);
  const rec = readIdentity(d);
  assert.equal(rec?.clusterId, clusterIdFor('leasekv', ['n3', 'n2', 'n1']));
  assert.match(rec?.incarnation ?? '', /^[0-9a-f]{16}$/);
  const again = resolveIdentity(cfg(d), false, null);
  assert.equal(again.book.createdNow, false);
  assert.deepEqual([...membersOf(again.initial).peers.keys()], ['n1', 'n2', 'n3']);
  const inForce = membersOf(again.initial);
  checkFlags(cfg(d, '--peers', THREE), inForce, rec!.clusterId);
  assert.throws(
    () => checkFlags(cfg(d, '--peers', `${THREE},n4=10.0.0.4:7101,n5=10.0.0.5:7101`), inForce, rec!.clusterId),
    refused(
      /--peers adds n4, n5, which are not members; to add a member run `leasekv member add n4 --peer-addr 10\.0\.0\.4:7101/,
    ),
  );
  assert.throws(
    () => checkFlags(cfg(d, '--peers', 'n1=10.0.0.1:7101,n2=10.0.0.2:7101'), inForce, rec!.clusterId),
    refused(/--peers leaves out n3, which is a member; to remove a member run `leasekv member remove n3/),
  );
  assert.throws(
    () => checkFlags(cfg(d, '--peers', 'n1=10.0.0.1:7101,n2=10.0.0.9:7101,n3=10.0.0.3:7101'), inForce, rec!.clusterId),
    refused(/gives n2 the peer address 10\.0\.0\.9:7101, but the cluster knows it at 10\.0\.0\.2:7101/),
  );
  assert.throws(
    () => resolveIdentity(cfg(d, '--cluster-token', 'other'), false, null),
    refused(/start it with --cluster-token leasekv/),
  );
  assert.throws(() => resolveIdentity({ ...cfg(d), id: 'n2' }, false, null), refused(/belongs to member n1/));
  // A token forgotten on restart is named as the default (session 13 outside-in audit).
  const ops = dir(t);
  resolveIdentity(cfg(ops, '--peers', THREE, '--cluster-token', 'ops-1'), true, null);
  assert.throws(
    () => resolveIdentity(cfg(ops), false, null),
    refused(
      /token "ops-1", not "leasekv" \(the default: no --cluster-token given\): start it with --cluster-token ops-1$/,
    ),
  );
});

test('an empty data dir needs --peers or --join', (t) => {
  assert.throws(
    () => resolveIdentity(cfg(dir(t)), true, null),
    refused(/give --peers to bootstrap a brand-new cluster .* or --join/),
  );
});

test('join: only a member that was added, never a removed id or a first member', (t) => {
  const info = (members: JoinInfo['members'], removed: string[] = []): JoinInfo => ({
    clusterId: 'c'.repeat(32),
    members,
    removed,
    from: '10.0.0.2:7001',
  });
  const m = (id: string, incarnation: string, learner = false) => ({
    id,
    peerAddr: `10.0.0.${id.slice(1)}:7101`,
    clientAddr: `10.0.0.${id.slice(1)}:7001`,
    learner,
    incarnation,
  });
  assert.throws(
    () => resolveIdentity(cfg(dir(t)), true, info([m('n2', ''), m('n3', '')])),
    refused(/n1 is not a member .*add it first with `leasekv member add n1/),
  );
  assert.throws(
    () => resolveIdentity(cfg(dir(t)), true, info([m('n2', ''), m('n3', '')], ['n1'])),
    refused(/n1 was removed .* an id never comes back/),
  );
  assert.throws(
    () => resolveIdentity(cfg(dir(t)), true, info([m('n1', ''), m('n2', '')])),
    refused(/one of the first members .* cannot join with an empty data dir/),
  );
  const d = dir(t);
  const joined = resolveIdentity(cfg(d), true, info([m('n2', ''), m('n3', ''), m('n1', 'abc', true)]));
  assert.deepEqual(joined.learners, ['n1']);
  assert.match(readIdentity(d)?.incarnation ?? '', /^abc\.[0-9a-f]{16}$/);
  assert.deepEqual(
    resolveIdentity(cfg(d), true, null).learners,
    ['n1'],
    'restarted before its first snapshot: still a learner',
  );
});

test("handshake: a peer's first incarnation is recorded; another is refused; an added member must carry its added one", (t) => {
  const d = dir(t);
  const { book } = resolveIdentity(cfg(d, '--peers', THREE), true, null);
  book.setAddedIncarnations((id) => (id === 'n4' ? 'feed' : undefined));
  const hello = book.peerIdentity();
  assert.equal(hello.verify('n2', '', 'aaaa'), null);
  assert.equal(readIdentity(d)?.peerIncarnations['n2'], 'aaaa', 'recorded durably');
  assert.equal(hello.verify('n2', '', 'aaaa'), null);
  assert.match(
    hello.verify('n2', '', 'bbbb') ?? '',
    /member n2 .* has incarnation aaaa, but this node n2 has incarnation bbbb: .*leasekv member remove n2/,
  );
  assert.match(hello.verify('n4', '', 'beef.1234') ?? '', /added with incarnation feed/);
  assert.equal(hello.verify('n4', '', 'feed.1234'), null);
});

test('a data dir recorded without client addresses (bootstrap or restore without --client-addrs) takes them from --client-addrs at start', (t) => {
  const d = dir(t);
  resolveIdentity(cfg(d, '--peers', THREE), true, null);
  const plain = resolveIdentity(cfg(d), false, null);
  assert.equal(membersOf(plain.initial).clientAddrs.size, 0);
  const given = resolveIdentity(
    cfg(d, '--client-addrs', 'n1=10.0.0.1:7001,n2=10.0.0.2:7001,n3=10.0.0.3:7001'),
    false,
    null,
  );
  assert.deepEqual(
    [...membersOf(given.initial).clientAddrs].map(([id, hp]) => `${id}=${hp.host}:${hp.port}`),
    ['n1=10.0.0.1:7001', 'n2=10.0.0.2:7001', 'n3=10.0.0.3:7001'],
  );
  checkFlags(
    cfg(d, '--client-addrs', 'n1=10.0.0.1:7001,n2=10.0.0.2:7001,n3=10.0.0.3:7001'),
    membersOf(given.initial),
    readIdentity(d)!.clusterId,
  );
});

test("a data dir holding only members' data dirs (the parent of data/n1 …) is refused before anything is created, even with --peers", async (t) => {
  const parent = dir(t);
  for (const id of ['n1', 'n2']) {
    mkdirSync(join(parent, id));
    resolveIdentity(cfg(join(parent, id), '--peers', THREE), true, null);
  }
  mkdirSync(join(parent, 'tls'));
  const before = readdirSync(parent).sort();
  for (const flags of [['--peers', THREE], []]) {
    await assert.rejects(
      startNode(cfg(parent, ...flags, '--log-level', 'silent')),
      refused(
        new RegExp(
          `the data dir .* holds no member's data but the data dirs .*n1, .*n2: give a member's own folder, e.g. --data-dir ${parent}/n1$`,
        ),
      ),
    );
    assert.deepEqual(readdirSync(parent).sort(), before, 'nothing created in it');
  }
  // A member's own data dir, and an empty or new one for a new member, are not refused.
  refuseDataDirWithoutData(join(parent, 'n1'), 'n1', false);
  refuseDataDirWithoutData(join(parent, 'tls'), 'n1', true);
  refuseDataDirWithoutData(join(parent, 'new'), 'n1', true);
  // An empty one for a restart (no --peers, no --join) is refused with nothing left in it: a WAL
  // segment left behind would make it look like a member's data dir on the next start.
  await assert.rejects(
    startNode(cfg(join(parent, 'tls'), '--log-level', 'silent')),
    refused(/the data dir .*tls is empty: give --peers to bootstrap/),
  );
  assert.deepEqual(readdirSync(join(parent, 'tls')), []);
});
