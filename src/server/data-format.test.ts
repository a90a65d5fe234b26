// The data dir's format marker (storage/data_format.ts, docs/operations.md "Compatibility"), on a
// data dir written by the build before it: testdata/upgrade/datadir-61f8206.json is a one-member
// cluster's folder as leasekv 0.1.0 (main at 61f8206) left it after four puts and a clean stop (each
// file's bytes up to its zero tail, and its size: the WAL segment is preallocated).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { DATA_FORMAT, DataFormatError } from '../storage/data_format.ts';
import { readIdentity, writeIdentity } from '../storage/identity.ts';
import { freePort } from '../testkit/wait.ts';
import { post } from './api/test-util.ts';
import { buildNodeConfig } from './config.ts';
import { startNode } from './start.ts';
import { VERSION } from './version.ts';

interface Fixture {
  readonly keys: Record<string, string>;
  readonly clusterToken: string;
  readonly files: readonly { name: string; sizeBytes: number; head: string }[];
}
const FIXTURE = new URL('../../testdata/upgrade/datadir-61f8206.json', import.meta.url);

function unpack(): { dir: string; fx: Fixture } {
  const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-format-'));
  for (const f of fx.files) {
    writeFileSync(join(dir, f.name), Buffer.from(f.head, 'base64'));
    truncateSync(join(dir, f.name), f.sizeBytes);
  }
  return { dir, fx };
}

async function start(dir: string, token: string) {
  const cfg = buildNodeConfig({
    id: 'n1',
    dataDir: dir,
    listenPeer: '127.0.0.1:0',
    listenClient: `127.0.0.1:${await freePort()}`,
    clusterToken: token,
    heartbeatMs: '100',
    electionTimeoutMs: '600',
    leaseMs: '500',
    insecure: 'true',
    logLevel: 'silent',
  });
  return startNode(cfg, { logger: pino({ level: 'silent' }) });
}

/** Every file's name and SHA-256: what "nothing in it was changed" means. */
function digest(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map(
      (n) =>
        `${n} ${createHash('sha256')
          .update(readFileSync(join(dir, n)))
          .digest('hex')}`,
    );
}

test('a data dir of leasekv 0.1.0 (no marker) opens, keeps its data and identity, and is marked', async () => {
  const { dir, fx } = unpack();
  const before = readIdentity(dir);
  assert.equal(before?.dataFormat, undefined);
  try {
    const node = await start(dir, fx.clusterToken);
    try {
      for (const [key, value] of Object.entries(fx.keys)) {
        let got: Record<string, unknown> = {};
        for (let i = 0; i < 100; i++) {
          got = JSON.parse((await post(node.api.port, '/leasekv.v1.KV/Get', JSON.stringify({ key }))).body);
          if (got['code'] !== 'failed_precondition') break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(got['value'], value, key);
      }
    } finally {
      await node.stop();
    }
    const after = readIdentity(dir);
    assert.equal(after?.dataFormat, DATA_FORMAT);
    assert.equal(after?.writtenBy, VERSION);
    assert.deepEqual(
      { ...after, dataFormat: undefined, writtenBy: undefined },
      { ...before, dataFormat: undefined, writtenBy: undefined },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data dir marked with a newer format is refused before anything in it is read or changed', async () => {
  const { dir, fx } = unpack();
  try {
    const rec = readIdentity(dir);
    assert.ok(rec !== null);
    writeIdentity(dir, { ...rec, dataFormat: DATA_FORMAT + 1, writtenBy: '9.9.9' });
    const before = digest(dir);
    await assert.rejects(start(dir, fx.clusterToken), (e: Error) => {
      assert.ok(e instanceof DataFormatError, e.message);
      assert.match(
        e.message,
        new RegExp(
          `is in data format ${DATA_FORMAT + 1}, last written by leasekv 9\\.9\\.9; this leasekv ${VERSION.replace(/\./g, '\\.')} reads data formats 1 to ${DATA_FORMAT}\\. Nothing in it was changed\\. Run leasekv 9\\.9\\.9 or newer`,
        ),
      );
      return true;
    });
    // The lock was taken and released: it is the only difference allowed (none is left).
    assert.deepEqual(digest(dir), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the package version and the version the server reports agree', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});
