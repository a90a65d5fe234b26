// The CLI habits of issue 10 against a real 3-node cluster (test-cluster.ts): http:// endpoints, a
// 500 KiB value from stdin, -w table|simple|json, scan quoting, and `wal inspect` on the folder that
// holds the nodes' data dirs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { START_HOOK_TIMEOUT_MS, startTestCluster, type TestCluster } from '../test-cluster.ts';
import { leasekv } from './cli-test-util.ts';
import { LeasekvClient } from '../../client/index.ts';
import { VERSION } from '../../server/version.ts';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../transport/codec.ts';

describe('leasekv CLI against a real cluster', () => {
  let cluster: TestCluster;
  let eps: string;
  before(
    async () => {
      cluster = await startTestCluster(3);
      eps = cluster.nodes.map((n) => `http://${n.clientAddr}`).join(',');
    },
    { timeout: START_HOOK_TIMEOUT_MS },
  );
  after(() => cluster?.close());

  test('a 500 KiB value from stdin through http:// endpoints, read back as JSON', async () => {
    const big = `${'v'.repeat(500 * 1024)}\n`;
    const put = await leasekv(['put', 'big', '-', '--endpoints', eps, '--deadline-ms', '15000'], { input: big });
    assert.deepEqual([put.code, put.stdout], [0, 'OK\n'], `${put.stderr}\n${cluster.output()}`);
    const get = await leasekv(['get', 'big', '-w', 'json', '--endpoints', eps, '--deadline-ms', '15000']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal((JSON.parse(get.stdout) as { value: string }).value, big);
  });

  test('scan quotes tabs and newlines; status as table, simple and json', async () => {
    const put = await leasekv(['put', 'tab\tkey', 'line\nbreak', '--endpoints', eps, '--deadline-ms', '15000']);
    assert.equal(put.code, 0, put.stderr);
    const [scan, table, simple, json] = await Promise.all([
      leasekv(['scan', 'tab', '--endpoints', eps]),
      leasekv(['status', '--endpoints', eps]),
      leasekv(['status', '-w', 'simple', '--endpoints', eps]),
      leasekv(['status', '-w', 'json', '--endpoints', eps]),
    ]);
    assert.equal(scan.stdout, '"tab\\tkey"\t"line\\nbreak"\n', scan.stderr);
    assert.match(table.stdout, /^ENDPOINT\s+ID\s+ROLE/);
    assert.equal(table.stdout.trim().split('\n').length, 4);
    // Endpoints are shown in the canonical host:port form, one comma-separated line per node.
    const lines = simple.stdout.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(', ')[0]),
      cluster.nodes.map((n) => n.clientAddr),
    );
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 3);
    // Each member's peer protocol and version (session 13). Rows of nodes that answered (a loaded
    // machine may leave one past the command's 2 s) show the build's version and protocols.
    assert.match(table.stdout, /\sVERSION\s+PROTOCOL\s+CLUSTER PROTOCOL(\s+ERROR)?\n/);
    const row = new RegExp(
      `\\s${VERSION.replace(/\./g, '\\.')}\\s+${PROTOCOL_VERSION}\\s+${PROTOCOL_VERSION}(\\s+-)?$`,
    );
    for (const line of table.stdout.trim().split('\n').slice(1)) if (!/unreachable/.test(line)) assert.match(line, row);
    // The leader has shaken hands with every member, so it knows them all; every node gives its
    // own build's range and the cluster's.
    const client = new LeasekvClient({ endpoints: cluster.nodes.map((n) => n.clientAddr) });
    try {
      const all = await client.statusAll({ deadlineMs: 15_000 });
      const leader = all.find((e) => e.status?.role === 'leader')?.status;
      assert.ok(leader !== undefined, JSON.stringify(all));
      assert.equal(leader.members.length, 3);
      for (const m of leader.members) {
        assert.equal(m.protocolVersion, PROTOCOL_VERSION, `${m.id}: ${JSON.stringify(m)}`);
        assert.equal(m.softwareVersion, VERSION, `${m.id}: ${JSON.stringify(m)}`);
      }
      for (const e of all)
        assert.deepEqual(
          [e.status?.minProtocolVersion, e.status?.maxProtocolVersion, e.status?.clusterProtocolVersion],
          [MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, PROTOCOL_VERSION],
          JSON.stringify(e),
        );
    } finally {
      await client.close();
    }
  });

  test('wal inspect on the folder of data dirs names them and exits 1', async () => {
    const r = await leasekv(['wal', 'inspect', cluster.dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /is not a node's data folder: .* but it holds data folders: .*\/n1, .*\/n2, .*\/n3; inspect one of them/,
    );
  });
});
