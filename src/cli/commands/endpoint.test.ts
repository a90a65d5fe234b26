// `leasekv endpoint health` output against a stand-in node (GET /health answered as a node does)
// and an address nobody listens on: the ERROR column says '-' when there is no error, as the other
// tables show an empty cell, and the cause when there is one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort } from '../../testkit/wait.ts';
import { leasekv, standIn, type StandIn } from './cli-test-util.ts';

const HEALTHY = {
  health: true,
  reason: '',
  id: 'n1',
  role: 'leader',
  term: 2,
  leader: 'n1',
  leaseValid: true,
  leaseRemainingMs: 400,
  commitIndex: 5,
  appliedIndex: 5,
  caughtUp: true,
};

let node: StandIn;
let nobody = '';

before(async () => {
  node = await standIn({ '/health': HEALTHY });
  nobody = `127.0.0.1:${await freePort()}`;
});

after(() => node.close());

test('endpoint health: a healthy endpoint has "-" in its ERROR column, an unreachable one the cause', async () => {
  const r = await leasekv(['endpoint', 'health', '--endpoints', `${node.endpoint},${nobody}`]);
  assert.equal(r.code, 1, r.stderr); // one endpoint does not answer
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^ENDPOINT\s+HEALTH\s+TOOK\s+ERROR$/);
  const row = (ep: string): string[] => (lines.find((l) => l.startsWith(`${ep} `)) ?? '').split(/\s{2,}/);
  const healthy = row(node.endpoint);
  assert.equal(healthy[1], 'true', r.stdout);
  assert.equal(healthy[3], '-', r.stdout);
  const down = row(nobody);
  assert.equal(down[1], 'false', r.stdout);
  assert.match(down[3] ?? '', /ECONNREFUSED/, r.stdout);
});

test('endpoint health -w json keeps error "" for a healthy endpoint (data, not a table cell)', async () => {
  const r = await leasekv(['endpoint', 'health', '--endpoints', node.endpoint, '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { health: boolean; error: string }[];
  assert.deepEqual(
    rows.map((h) => [h.health, h.error]),
    [[true, '']],
  );
});
