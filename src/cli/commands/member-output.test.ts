// `leasekv member` output against a stand-in Cluster service (plain HTTP/JSON, as a node answers):
// counters as numbers in -w json, the LEADER column filled, and the `serve` command printed by
// `member add` carrying every flag a new member needs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leasekv, standIn, type StandIn } from './cli-test-util.ts';

const MEMBERS = [
  { id: 'n1', peerAddr: '127.0.0.1:7101', clientAddr: '127.0.0.1:7001', learner: false, incarnation: '' },
  { id: 'n2', peerAddr: '127.0.0.1:7102', clientAddr: '127.0.0.1:7002', learner: false, incarnation: '' },
  // Started with --peers but without --client-addrs: no client address known.
  { id: 'n3', peerAddr: '127.0.0.1:7103', clientAddr: '', learner: true, incarnation: '' },
];
// What a node sends: uint64 fields as JSON strings (the proto3 JSON mapping).
const ANSWERS: Record<string, object> = {
  '/leasekv.v1.Cluster/MemberList': {
    clusterId: 'c1',
    members: MEMBERS,
    removed: [],
    leader: 'n2',
    configIndex: '7',
    configCommitted: true,
  },
  '/leasekv.v1.Cluster/MemberAdd': { member: MEMBERS[0], index: '9', members: MEMBERS },
};

let node: StandIn;
let endpoint = '';

before(async () => {
  node = await standIn(ANSWERS);
  endpoint = node.endpoint;
});

after(() => node.close());

test('member list -w json prints configIndex as a number', async () => {
  const r = await leasekv(['member', 'list', '-w', 'json', '--endpoints', endpoint]);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { configIndex: unknown };
  assert.equal(a.configIndex, 7);
});

test('member list: the LEADER column says yes or no on every row', async () => {
  const r = await leasekv(['member', 'list', '--endpoints', endpoint]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^ID\s+ROLE\s+LEADER\s+PEER-ADDR/);
  assert.match(lines[1] ?? '', /^n1\s+voter\s+no\s+127\.0\.0\.1:7101/);
  assert.match(lines[2] ?? '', /^n2\s+voter\s+yes\s+127\.0\.0\.1:7102/);
  // An address not known is '-', as in the other tables (not "").
  assert.match(lines[3] ?? '', /^n3\s+learner\s+no\s+127\.0\.0\.1:7103\s+-$/);
});

test('member add prints a serve command with --join, --cluster-token and --insecure for plaintext', async () => {
  const r = await leasekv([
    'member',
    'add',
    'n3',
    '--peer-addr',
    '127.0.0.1:7103',
    '--client-addr',
    '127.0.0.1:7003',
    '--endpoints',
    endpoint,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /at index 9\n/);
  const serve = r.stdout.split('\n').find((l) => l.includes('leasekv serve')) ?? '';
  for (const flag of [
    '--id n3',
    '--listen-peer 127.0.0.1:7103',
    '--listen-client 127.0.0.1:7003',
    // The members' client addresses after the change (n3, the new one, left out), not --endpoints.
    '--join 127.0.0.1:7001,127.0.0.1:7002 ',
  ])
    assert.ok(serve.includes(flag), `${flag} in: ${serve}`);
  assert.match(serve, /--cluster-token TOKEN/);
  assert.match(serve, /--insecure/);
  const json = await leasekv([
    'member',
    'add',
    'n3',
    '--peer-addr',
    'a:1',
    '--client-addr',
    'b:2',
    '-w',
    'json',
    '--endpoints',
    endpoint,
  ]);
  assert.equal((JSON.parse(json.stdout) as { index: unknown }).index, 9);
});
