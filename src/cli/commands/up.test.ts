// `leasekv up` with a stand-in for `serve` (up-fake-serve.ts): spawns the nodes with the agreed
// flags, prefixes their output, prints the banner, stops them on SIGTERM, resumes the same data
// folders, and refuses a busy port.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nextMember, PEER_OFFSET, PROXY_OFFSET, portBlock, plan, serveArgs } from './up-plan.ts';
import { freeBlock, releasePorts } from '../../testkit/wait.ts';
import { writeIdentity } from '../../storage/identity.ts';
import { proxyOffset } from '../supervisor.ts';

const BIN = fileURLToPath(new URL('../../../bin/leasekv.mjs', import.meta.url));
const FAKE = fileURLToPath(new URL('./up-fake-serve.ts', import.meta.url));
/** Only a hang: `up` and its stand-in nodes each load the sources through tsx (over 30 s at load 35). */
const UP_HANG_MS = 120_000;
/**
 * Every port `up` may open or check from --base-port here (control, 5 clients, 5 peers, the proxies of 5),
 * reserved as the test kit reserves its ports: a fixed block (21000 + pid % 4000) could hold a port
 * another test's node had bound — 'already in use', a failure that is not up's.
 */
const BLOCK = [
  -1,
  ...[0, 1, 2, 3, 4],
  ...[0, 1, 2, 3, 4].map((i) => PEER_OFFSET + i),
  ...Array.from({ length: 20 }, (_, i) => PROXY_OFFSET + i),
];
/** The block at the base port, and at base + 1000 (where a resumed folder is refused after up checked its ports). */
const OFFSETS = [...BLOCK, ...BLOCK.map((o) => o + 1000)];
/** Every `up` started here; killed (with its process group of nodes) if a test fails midway. */
const started: ChildProcess[] = [];
/** Where `up` records its clusters' TLS files for the CLI (not the user's own configuration folder). */
const CONFIG_HOME = mkdtempSync(join(tmpdir(), 'leasekv-up-config-'));

function up(
  args: string[],
  until: (out: string) => boolean,
): Promise<{ out: string; code: number | null; stop: () => Promise<{ out: string; code: number | null }> }> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], {
    env: { ...process.env, LEASEKV_UP_SERVE: FAKE, LEASEKV_CONFIG_HOME: CONFIG_HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timeout; output so far:\n${out}`));
    }, UP_HANG_MS);
    const stop = async (): Promise<{ out: string; code: number | null }> => {
      child.kill('SIGTERM');
      const code = await exited;
      return { out, code };
    };
    const check = (): void => {
      if (until(out)) {
        clearTimeout(timer);
        resolve({ out, code: null, stop });
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      resolve({ out, code, stop });
    });
  });
}

describe('leasekv up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-up-'));
  let base = 0;
  before(async () => {
    base = await freeBlock(OFFSETS);
  });
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    releasePorts(OFFSETS.map((o) => base + o));
    rmSync(dir, { recursive: true, force: true });
    rmSync(CONFIG_HOME, { recursive: true, force: true });
  });

  test('add-member picks the lowest unused id up to n5, inside the block; an id with a data dir is never reused', () => {
    const d = mkdtempSync(join(tmpdir(), 'leasekv-up-next-'));
    try {
      assert.deepEqual(nextMember(['n1', 'n2', 'n3'], d, 7001), {
        id: 'n4',
        clientAddr: '127.0.0.1:7004',
        peerAddr: '127.0.0.1:7104',
        dataDir: join(d, 'n4'),
      });
      mkdirSync(join(d, 'n4'));
      assert.equal(nextMember(['n1', 'n2', 'n3'], d, 7001).id, 'n5', 'removed n4 left its data dir');
      assert.throws(() => nextMember(['n1', 'n2', 'n3', 'n5'], d, 7001), /room for n1\.\.n5/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('plans the agreed serve flags', () => {
    const p = plan(3, '/d', 7001);
    assert.deepEqual(serveArgs(p[1]!, p), [
      'serve',
      '--id',
      'n2',
      '--data-dir',
      '/d/n2',
      '--listen-peer',
      '127.0.0.1:7102',
      '--listen-client',
      '127.0.0.1:7002',
      '--peers',
      'n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103',
      '--client-addrs',
      'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003',
    ]);
  });

  test('every port in the documented block: control P-1, clients P.., peers P+100.., proxies P+200..', () => {
    assert.deepEqual(portBlock(3, 7001), {
      control: 7000,
      clients: [7001, 7002, 7003],
      peers: [7101, 7102, 7103],
      proxyBase: 7201,
      first: 7000,
      last: 7206,
    });
    assert.equal(portBlock(5, 7001).last, 7220);
    // One proxy per directed pair, each at its own offset in 0 .. n(n-1)-1.
    for (const n of [3, 5]) {
      const offsets = [];
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) offsets.push(proxyOffset(i, j, n));
      assert.deepEqual(
        offsets,
        Array.from({ length: n * (n - 1) }, (_, k) => k),
      );
    }
  });

  test('--base-port must leave room for the whole block; typos are suggested', async () => {
    const [high, low, typo] = await Promise.all([
      up(['--base-port', '65400', '--data-dir', dir], () => false),
      up(['--base-port', '1024', '--data-dir', dir], () => false),
      up(['--base-prot', '7001'], () => false),
    ]);
    assert.equal(high.code, 2);
    assert.match(high.out, /--base-port must be an integer in 1025\.\.65330 for 3 nodes/);
    assert.equal(low.code, 2);
    assert.equal(typo.code, 2);
    assert.match(typo.out, /unknown flag --base-prot; did you mean --base-port\?/);
  });

  test('starts, prints, stops on SIGTERM, and resumes the same data', async () => {
    for (let run = 1; run <= 2; run++) {
      // Wait for every node to serve (not just the banner) so each has its SIGTERM handler when stopped.
      const r = await up(
        ['--base-port', String(base), '--data-dir', dir],
        (out) =>
          /3 nodes up/.test(out) && ['n1', 'n2', 'n3'].every((id) => out.includes(`[${id}] fake node ${id} serving`)),
      );
      assert.equal(r.code, null, r.out);
      assert.match(r.out, /\[n1\] fake node n1 serving on 127\.0\.0\.1:\d+/);
      // --peers has the members' real peer addresses (what `member list` shows); n2 (position 1)
      // dials n1 and n3 through the proxies at P+200+2 and P+200+3 (--peer-routes).
      assert.match(
        r.out,
        new RegExp(
          `\\[n2\\] fake node n2 serving on 127\\.0\\.0\\.1:${base + 1} peers n1=127\\.0\\.0\\.1:${base + 100},n2=127\\.0\\.0\\.1:${base + 101},n3=127\\.0\\.0\\.1:${base + 102} routes n1=127\\.0\\.0\\.1:${base + 202},n3=127\\.0\\.0\\.1:${base + 203}\n`,
        ),
        r.out,
      );
      const proxyPorts = [...r.out.matchAll(/routes (\S+)/g)].flatMap((m) =>
        m[1]!.split(',').map((e) => Number(e.split(':')[1])),
      );
      assert.equal(proxyPorts.length, 6, r.out);
      for (const port of proxyPorts)
        assert.ok(port >= base - 1 && port <= base + 205, `port ${port} outside ${base - 1}..${base + 205}`);
      assert.match(
        r.out,
        new RegExp(
          `endpoints: https://127\\.0\\.0\\.1:${base},https://127\\.0\\.0\\.1:${base + 1},https://127\\.0\\.0\\.1:${base + 2}`,
        ),
      );
      // Secure by default: the first run makes the local CA and certificates, the second reuses them;
      // the banner (which asked the nodes for a leader over TLS) and the CLI's record say how to reach them.
      assert.match(r.out, run === 1 ? /\[up\] TLS: made ca\.crt, peer-ca\.crt, n1\.crt/ : /\[up\] TLS: reusing/);
      assert.match(r.out, /nodes up, leader n\d, TLS on/);
      assert.match(r.out, /curl --cacert \S*tls\/ca\.crt -H 'content-type: application\/json'/);
      assert.match(r.out, new RegExp(`dashboard: https://127\\.0\\.0\\.1:${base}/`));
      const record = JSON.parse(readFileSync(join(CONFIG_HOME, 'local-clusters.json'), 'utf8')) as Record<
        string,
        { cacert: string }
      >;
      assert.equal(record[`127.0.0.1:${base + 4}`]?.cacert, join(dir, 'tls', 'ca.crt'), 'n5 included');
      const stopped = await r.stop();
      assert.equal(stopped.code, 0, stopped.out);
      assert.match(stopped.out, /\[n3\] fake node n3 stopping/);
      assert.match(stopped.out, /\[up\] stopped; data kept in/);
      for (const id of ['n1', 'n2', 'n3'])
        assert.equal(readFileSync(join(dir, id, 'starts'), 'utf8'), `${id}\n`.repeat(run));
    }
  });

  test('refuses a busy proxy port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(base + 204, '127.0.0.1', r));
    try {
      const r = await up(['--base-port', String(base), '--data-dir', dir], () => false);
      assert.equal(r.code, 1);
      assert.match(
        r.out,
        new RegExp(
          `port ${base + 204} \\(proxy n3→n1\\) is already in use.*this cluster uses ${base - 1}\\.\\.${base + 205}`,
        ),
      );
    } finally {
      blocker.close();
    }
  });

  test('refuses a busy port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', r));
    try {
      const r = await up(['--base-port', String(base), '--data-dir', dir], () => false);
      assert.equal(r.code, 1);
      assert.match(r.out, new RegExp(`port ${base + 1} \\(n2\\) is already in use`));
    } finally {
      blocker.close();
    }
  });

  test('refuses a folder that holds a cluster of another size', async () => {
    const three = plan(3, join(dir, 'sized'), base);
    mkdirSync(three[0]!.dataDir, { recursive: true });
    writeIdentity(three[0]!.dataDir, {
      clusterId: 'c'.repeat(32),
      clusterToken: 'leasekv',
      memberId: 'n1',
      incarnation: 'a'.repeat(16),
      how: 'bootstrap',
      createdAt: '',
      initialMembers: three.map((n) => ({ id: n.id, peerAddr: n.peerAddr, clientAddr: n.clientAddr })),
      peerIncarnations: {},
    });
    const r = await up(['--nodes', '5', '--base-port', String(base), '--data-dir', join(dir, 'sized')], () => false);
    assert.equal(r.code, 1);
    assert.match(r.out, /holds a 3-node cluster \(n1, n2, n3\), not 5 nodes: run `leasekv up --nodes 3 --data-dir /);
  });

  test("refuses a member's own data dir (data/n1 for data): nothing is created in it", async () => {
    const member = join(dir, 'member', 'n1');
    mkdirSync(member, { recursive: true });
    writeFileSync(join(member, '0000000000000000.wal'), '');
    const r = await up(['--base-port', String(base), '--data-dir', member], () => false);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /n1 is a member's data dir, not the folder that holds a cluster's n1\.\.nN: give that folder \(--data-dir .*member, say\)/,
    );
    assert.deepEqual(readdirSync(member), ['0000000000000000.wal']);
  });

  test('a node with data is started without --peers (its members are in its data dir); another --base-port is refused', async () => {
    const folder = join(dir, 'recorded');
    const three = plan(3, folder, base);
    mkdirSync(three[0]!.dataDir, { recursive: true });
    writeIdentity(three[0]!.dataDir, {
      clusterId: 'c'.repeat(32),
      clusterToken: 'leasekv',
      memberId: 'n1',
      incarnation: 'a'.repeat(16),
      how: 'bootstrap',
      createdAt: '',
      initialMembers: three.map((n) => ({ id: n.id, peerAddr: n.peerAddr, clientAddr: n.clientAddr })),
      peerIncarnations: {},
    });
    const moved = await up(['--base-port', String(base + 1000), '--data-dir', folder], () => false);
    assert.equal(moved.code, 1);
    assert.match(
      moved.out,
      new RegExp(`was started with another --base-port \\(its n1 served clients on 127\\.0\\.0\\.1:${base}, not`),
    );
    const r = await up(['--base-port', String(base), '--data-dir', folder], (out) =>
      ['n1', 'n2', 'n3'].every((id) => out.includes(`[${id}] fake node ${id} serving`)),
    );
    assert.match(r.out, /\[n1\] fake node n1 serving on \S+ peers undefined routes n2=\S+,n3=\S+\n/, r.out);
    assert.match(r.out, /\[n2\] fake node n2 serving on \S+ peers n1=/, r.out);
    const stopped = await r.stop();
    assert.equal(stopped.code, 0, stopped.out);
  });
});
