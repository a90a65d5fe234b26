// Backup files and restore, in process: the checksum catches a flipped byte anywhere; a restore
// writes a data dir that the node's own storage reads back as the snapshot; it refuses a non-empty
// data dir and the backed-up cluster's own token. The CLI exits 1 with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType } from '../raft/types.ts';
import { encodeCommand, KvStateMachine } from '../kv/index.ts';
import { BackupFileError, encodeBackup, encodeBackupAsync } from '../storage/backup_file.ts';
import { readIdentity } from '../storage/identity.ts';
import { buildNodeConfig } from './config.ts';
import { clusterIdFor } from './identity.ts';
import { restoreDataDir, RestoreError, verifyBackup } from './restore.ts';
import { openNodeStorage, restoreSnapshotFile } from './storage-adapter.ts';

const BIN = new URL('../../bin/leasekv.mjs', import.meta.url).pathname;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-restore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function backupBytes(): Uint8Array {
  const kv = new KvStateMachine();
  const puts: [string, string][] = [
    ['a', '1'],
    ['tab\tkey', 'line\nvalue'],
    ['🔑', 'x'.repeat(5000)],
  ];
  puts.forEach(([key, value], i) =>
    kv.apply({
      index: i + 1,
      term: 2,
      type: EntryType.Normal,
      data: encodeCommand({ op: 'put', key, value, session: { clientId: 'c', seq: i + 1 } }),
    }),
  );
  const parts = encodeBackup(
    {
      index: kv.appliedIndex,
      term: 2,
      keys: kv.size,
      clusterToken: 'old',
      members: [{ id: 'n1', peerAddr: 'h:1', clientAddr: 'h:2' }],
      node: 'n1',
      createdAt: '2026-01-01T00:00:00.000Z',
    },
    kv.snapshot(),
  );
  return Buffer.concat(parts);
}

function cfgFor(dir: string, token = 'new'): ReturnType<typeof buildNodeConfig> {
  return buildNodeConfig({
    id: 'm2',
    dataDir: dir,
    listenPeer: '127.0.0.1:0',
    listenClient: '127.0.0.1:0',
    peers: 'm1=127.0.0.1:1,m2=127.0.0.1:2,m3=127.0.0.1:3',
    clusterToken: token,
  });
}

test('backup file: verified header; every single flipped byte is refused', () => {
  const bytes = backupBytes();
  const b = verifyBackup(bytes);
  assert.deepEqual([b.header.index, b.header.term, b.header.keys, b.header.clusterToken], [3, 2, 3, 'old']);
  for (let i = 0; i < bytes.length; i += 97) {
    const bad = Uint8Array.from(bytes);
    bad[i]! ^= 0x10;
    assert.throws(() => verifyBackup(bad), BackupFileError, `flip at ${i}`);
  }
  assert.throws(() => verifyBackup(bytes.subarray(0, bytes.length - 1)), /checksum mismatch/);
});

test('restore: the data dir reads back as a snapshot at the backup index with every key and session', async (t) => {
  const dir = join(tempDir(t), 'm2');
  await restoreDataDir(cfgFor(dir), verifyBackup(backupBytes()));
  const opened = await openNodeStorage(dir);
  try {
    assert.equal(opened.fresh, false);
    assert.deepEqual(opened.hardState, { term: 2, votedFor: null, commit: 3 });
    assert.deepEqual(opened.snapshot?.meta, {
      index: 3,
      term: 2,
      confState: { voters: ['m1', 'm2', 'm3'], learners: [], removed: [] },
    });
    const kv = new KvStateMachine();
    await restoreSnapshotFile(kv, dir, opened.snapshot!);
    assert.equal(kv.get('tab\tkey'), 'line\nvalue');
    assert.equal(kv.get('🔑'), 'x'.repeat(5000));
    assert.equal(kv.sessionCount, 1, 'client sessions are kept');
  } finally {
    await opened.storage.close();
  }
  assert.equal(existsSync(join(dir, 'LOCK')), false, 'the lock is released');
  // A member of a new cluster: the cluster id derives from the new token and members.
  const id = readIdentity(dir);
  assert.equal(id?.memberId, 'm2');
  assert.equal(id?.clusterToken, 'new');
  assert.equal(id?.clusterId, clusterIdFor('new', ['m1', 'm2', 'm3']));
  assert.notEqual(id?.clusterId, clusterIdFor('old', ['m1', 'm2', 'm3']));
});

test('restore: refuses a non-empty data dir and the old cluster token', async (t) => {
  const root = tempDir(t);
  const b = verifyBackup(backupBytes());
  const used = join(root, 'used');
  mkdirSync(used);
  writeFileSync(join(used, 'something'), 'x');
  await assert.rejects(
    restoreDataDir(cfgFor(used), b),
    (e: unknown) => e instanceof RestoreError && /not empty/.test(e.message),
  );
  await assert.rejects(
    restoreDataDir(cfgFor(join(root, 'fresh'), 'old'), b),
    (e: unknown) => e instanceof RestoreError && /new one/.test(e.message),
  );
  assert.equal(existsSync(join(root, 'fresh')), false);
});

test('CLI: snapshot status and restore refuse a damaged file with exit 1 and one clear line', (t) => {
  const root = tempDir(t);
  const file = join(root, 'b.lkvbak');
  const bytes = backupBytes();
  writeFileSync(file, bytes);
  const ok = spawnSync(process.execPath, [BIN, 'snapshot', 'status', file, '-w', 'json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { keys: number }).keys, 3);
  bytes[20]! ^= 1;
  writeFileSync(file, bytes);
  const st = spawnSync(process.execPath, [BIN, 'snapshot', 'status', file], { encoding: 'utf8' });
  assert.equal(st.status, 1);
  assert.match(st.stderr, /^leasekv snapshot status: .*b\.lkvbak: checksum mismatch: the file is damaged or truncated/);
  const dir = join(root, 'd');
  const rs = spawnSync(
    process.execPath,
    [
      BIN,
      'snapshot',
      'restore',
      file,
      '--data-dir',
      dir,
      '--id',
      'n1',
      '--peers',
      'n1=127.0.0.1:1',
      '--cluster-token',
      'new',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(rs.status, 1);
  assert.match(rs.stderr, /^leasekv snapshot restore: .*checksum mismatch/);
  assert.equal(existsSync(dir), false);
  const usage = spawnSync(
    process.execPath,
    [BIN, 'snapshot', 'restore', file, '--data-dir', dir, '--peers', 'n1=127.0.0.1:1'],
    { encoding: 'utf8' },
  );
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--id is required/);
});

test('backup file: the sliced encoding (leader side) gives the same bytes as the one-go encoding', async () => {
  const data = new Uint8Array(9 << 20).map((_, i) => (i * 31) & 0xff);
  const header = { index: 9, term: 1, keys: 0, clusterToken: 't', members: [], node: 'n1', createdAt: 'x' };
  assert.deepEqual(Buffer.concat(await encodeBackupAsync(header, data)), Buffer.concat(encodeBackup(header, data)));
});
