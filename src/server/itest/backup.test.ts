// Real processes: backup and restore (issue 10). A 3-node cluster takes 500 keys (some with unusual
// characters, some long); `leasekv snapshot save` runs while a writer keeps writing; the file is
// restored into 3 new data dirs for a new cluster (new cluster token); that cluster serves every key
// with the value it had at the backup's index. A flipped byte in the file is refused. `leasekv endpoint
// health` says healthy on a working cluster and unhealthy (exit 1) when a majority is gone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { holdClusterLock, withCluster, type Cluster } from './harness.ts';
import { showResult, type Endpoint } from '../../testkit/http.ts';
import { LeaderClient, lastResult } from './leader-client.ts';
import { LEASEKV_BIN, REPO_ROOT } from '../../testkit/proc.ts';
import { waitFor } from '../../testkit/wait.ts';

holdClusterLock({ before, after });

const BASE_KEYS = 500;
/** Bounds on the writer that runs during the save. */
const WRITER_MAX = 3000;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `leasekv ARGS` to completion (bounded). */
function cli(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEASEKV_')) env[k] = v;
    const child = spawn(process.execPath, [LEASEKV_BIN, ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function endpointsOf(c: Cluster): string {
  return c.ids
    .map((id) => {
      const ep = c.endpoint(id) as { host: string; port: number };
      return `http://${ep.host}:${ep.port}`;
    })
    .join(',');
}

function clientFor(c: Cluster): LeaderClient {
  return new LeaderClient(new Map(c.ids.map((id): [string, Endpoint] => [id, c.endpoint(id)])), 3000);
}

/** The 500 keys: plain ones, unusual characters, long values. */
function baseData(): Map<string, string> {
  const odd = [
    'tab\there',
    'new\nline',
    'quote"and\\back',
    'emoji 🔑',
    '中文键',
    'space at end ',
    '\u2028sep',
    'nul\u0000inside',
    '-',
    '"',
  ];
  const m = new Map<string, string>();
  for (let i = 0; i < BASE_KEYS; i++) {
    const key = i < odd.length ? `odd/${odd[i]}` : `k/${String(i).padStart(4, '0')}`;
    const value =
      i % 50 === 7 ? `long-${i}-`.repeat(10_000) : i % 10 === 3 ? `v\t${i}\n"é🔑"` : i % 97 === 5 ? '' : `v${i}`;
    m.set(key, value);
  }
  return m;
}

async function putAll(c: Cluster, data: ReadonlyMap<string, string>): Promise<void> {
  const entries = [...data];
  const workers = Array.from({ length: 8 }, async (_, w) => {
    const client = clientFor(c);
    for (let i = w; i < entries.length; i += 8) {
      const [key, value] = entries[i]!;
      const r = lastResult(await client.untilOk('Put', { key, value, clientId: `base-${i}`, seq: 1 }, 30_000));
      assert.equal(r.kind, 'ok', `put ${JSON.stringify(key)}: ${showResult(r)}`);
    }
  });
  await Promise.all(workers);
}

interface Writes {
  /** key → index of the acknowledged write */
  readonly acked: Map<string, number>;
  /** keys whose write never got an answer (may or may not have applied) */
  readonly unknown: Set<string>;
}

/** Writes w/0, w/1, ... one at a time (one session, exactly-once retries) until `stop()` says so. */
function startWriter(c: Cluster): { done: Promise<Writes>; stop: () => void } {
  let stopping = false;
  const writes: Writes = { acked: new Map(), unknown: new Set() };
  const client = clientFor(c);
  const done = (async () => {
    for (let j = 0; j < WRITER_MAX && !stopping; j++) {
      const key = `w/${j}`;
      const r = lastResult(
        await client.untilOk('Put', { key, value: `w${j}`, clientId: 'writer', seq: j + 1 }, 15_000),
      );
      if (r.kind === 'ok') writes.acked.set(key, Number(r.body['index']));
      else writes.unknown.add(key);
    }
    return writes;
  })();
  return { done, stop: () => (stopping = true) };
}

test('snapshot save while writing, restore into a new 3-node cluster: every key at the backup index; a flipped byte is refused', async (t) => {
  const data = baseData();
  const work = mkdtempSync(join(tmpdir(), 'leasekv-backup-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const backup = join(work, 'cluster.lkvbak');
  let writes: Writes | null = null;
  let index = 0;
  await withCluster(t, { name: 'backup-src' }, async (c) => {
    await c.waitForLeader();
    await putAll(c, data);
    const health = await waitFor('endpoint health to say healthy on all 3', 30_000, async () => {
      const r = await cli(['endpoint', 'health', '--endpoints', endpointsOf(c), '-w', 'json']);
      return r.code === 0 ? r : undefined;
    });
    const rows = JSON.parse(health.stdout) as { health: boolean; report: { appliedIndex: number } }[];
    assert.equal(rows.length, 3);
    assert.ok(
      rows.every((r) => r.health && r.report.appliedIndex > 0),
      health.stdout,
    );

    const writer = startWriter(c);
    const save = await cli(['snapshot', 'save', backup, '--endpoints', endpointsOf(c), '-w', 'json']);
    writer.stop();
    writes = await writer.done;
    assert.equal(save.code, 0, `save: ${save.stderr}`);
    const saved = JSON.parse(save.stdout) as { index: number; keys: number; clusterToken: string };
    index = saved.index;
    assert.equal(saved.clusterToken, 'itest');
    t.diagnostic(
      `backup at index ${index} with ${saved.keys} keys; writer: ${writes.acked.size} acknowledged, ${writes.unknown.size} unknown`,
    );

    const status = await cli(['snapshot', 'status', backup, '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { index: number }).index, index);
  });

  // A flipped byte anywhere is refused by status and by restore, which then writes nothing.
  const bytes = readFileSync(backup);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(`${backup}.flipped`, bytes);
  const flippedStatus = await cli(['snapshot', 'status', `${backup}.flipped`]);
  assert.equal(flippedStatus.code, 1);
  assert.match(flippedStatus.stderr, /checksum mismatch/);

  const restoredWith: string[] = [];
  await withCluster(
    t,
    {
      name: 'backup-dst',
      clusterToken: 'itest-restored',
      beforeStart: async (c) => {
        // The same members the harness's first start passes to serve (a restore records them).
        const peers = c.ids.map((id) => `${id}=${c.peerAddr(id)}`).join(',');
        const clientAddrs = c.ids.map((id) => `${id}=${c.clientAddr(id)}`).join(',');
        const restore = (file: string, id: string, token: string): Promise<CliResult> =>
          cli([
            'snapshot',
            'restore',
            file,
            '--data-dir',
            c.dataDir(id),
            '--id',
            id,
            '--peers',
            peers,
            '--client-addrs',
            clientAddrs,
            '--cluster-token',
            token,
          ]);
        const firstId = c.ids[0]!;
        const refused = await restore(`${backup}.flipped`, firstId, 'itest-restored');
        assert.equal(refused.code, 1, refused.stdout);
        assert.match(refused.stderr, /checksum mismatch/);
        assert.equal(existsSync(c.dataDir(firstId)), false, 'a refused restore writes nothing');
        const sameToken = await restore(backup, firstId, 'itest');
        assert.equal(sameToken.code, 1);
        assert.match(sameToken.stderr, /backed-up cluster's own/);
        for (const id of c.ids) {
          const r = await restore(backup, id, 'itest-restored');
          assert.equal(r.code, 0, r.stderr);
          restoredWith.push(id);
        }
        const again = await restore(backup, firstId, 'itest-restored');
        assert.equal(again.code, 1);
        assert.match(again.stderr, /not empty/);
      },
    },
    async (c) => {
      assert.deepEqual(restoredWith, [...c.ids]);
      await c.waitForLeader();
      const client = clientFor(c);
      // Every key written before the save began, with its value (linearizable reads).
      for (const [key, value] of data) {
        const r = lastResult(await client.untilOk('Get', { key }, 15_000));
        assert.ok(
          r.kind === 'ok' && r.body['found'] === true && r.body['value'] === value,
          `${JSON.stringify(key)}: ${showResult(r).slice(0, 300)}`,
        );
      }
      // The whole state is the source's at the backup index: the writer's keys acknowledged at or
      // below it are there, those above it are not (unanswered ones may be either).
      const range = lastResult(await client.untilOk('Range', { prefix: 'w/', limit: 10_000 }, 15_000));
      assert.equal(range.kind, 'ok', showResult(range));
      const present = new Set(((range.body['kvs'] as { key: string }[] | undefined) ?? []).map((kv) => kv.key));
      const w = writes!;
      for (const [key, at] of w.acked)
        assert.equal(present.has(key), at <= index, `${key} acknowledged at ${at}, backup at ${index}`);
      for (const key of present) assert.ok(w.acked.has(key) || w.unknown.has(key), `${key} was never written`);
      const all = lastResult(await client.untilOk('Range', { prefix: '', limit: 10_000 }, 15_000));
      assert.equal(all.kind, 'ok');
      assert.equal(
        (all.body['kvs'] as unknown[]).length,
        data.size + present.size,
        'nothing else in the restored state',
      );

      // The restored cluster takes new writes.
      const put = lastResult(await client.untilOk('Put', { key: 'after-restore', value: 'yes' }, 15_000));
      assert.equal(put.kind, 'ok', showResult(put));

      // Health: a majority gone makes the survivor unhealthy, and the dead ones do not answer.
      const survivor = c.ids[0]!;
      for (const id of c.ids.slice(1)) await c.kill(id);
      const sick = await waitFor('endpoint health to report the lone survivor unhealthy', 30_000, async () => {
        const r = await cli([
          'endpoint',
          'health',
          '--endpoints',
          endpointsOf(c),
          '-w',
          'json',
          '--deadline-ms',
          '2000',
        ]);
        const rows = JSON.parse(r.stdout) as { endpoint: string; health: boolean; error: string }[];
        return r.code === 1 && rows.every((x) => !x.health) ? rows : undefined;
      });
      const lone = sick.find((x) => x.endpoint.endsWith(`:${(c.endpoint(survivor) as { port: number }).port}`));
      assert.match(lone?.error ?? '', /lease|leader/, JSON.stringify(sick));
    },
  );
});
