// `leasekv snapshot save/restore` with paths that cannot be written (session 11 operator audit):
// one line and exit 1, not a Node stack — and save checks its FILE before asking the leader for a
// whole copy of its state.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EntryType } from '../../raft/types.ts';
import { encodeCommand, KvStateMachine } from '../../kv/index.ts';
import { encodeBackup } from '../../storage/backup_file.ts';
import { leasekv, standIn } from './cli-test-util.ts';

function backupBytes(): Buffer {
  const kv = new KvStateMachine();
  kv.apply({ index: 1, term: 1, type: EntryType.Normal, data: encodeCommand({ op: 'put', key: 'a', value: '1' }) });
  const header = {
    index: kv.appliedIndex,
    term: 1,
    keys: kv.size,
    clusterToken: 'old',
    members: [{ id: 'n1', peerAddr: 'h:1', clientAddr: 'h:2' }],
    node: 'n1',
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  return Buffer.concat(encodeBackup(header, kv.snapshot()));
}

test('snapshot save into a folder that does not exist, or onto a folder: one line, nothing asked of the nodes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-snapfiles-'));
  const node = await standIn({});
  try {
    const missing = await leasekv([
      'snapshot',
      'save',
      join(root, 'no', 'b.bak'),
      '--endpoints',
      `http://${node.endpoint}`,
    ]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(
      missing.stderr,
      /^leasekv snapshot save: cannot write .*no\/b\.bak: ENOENT: no such file or directory/,
    );
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    const folder = await leasekv(['snapshot', 'save', root, '--endpoints', `http://${node.endpoint}`]);
    assert.equal(folder.code, 2, folder.stderr);
    assert.match(folder.stderr, /is a folder/);
    assert.deepEqual(node.requests, [], 'no endpoint was asked for a snapshot');
  } finally {
    await node.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('snapshot restore into a data dir that is a file, or under one: one line, exit 1', async () => {
  const root = mkdtempSync(join(tmpdir(), 'leasekv-snapfiles-'));
  try {
    const backup = join(root, 'b.lkvbak');
    writeFileSync(backup, backupBytes());
    writeFileSync(join(root, 'file'), 'x');
    for (const dir of [join(root, 'file'), join(root, 'file', 'sub')]) {
      const r = await leasekv([
        'snapshot',
        'restore',
        backup,
        '--data-dir',
        dir,
        '--id',
        'n1',
        '--peers',
        'n1=127.0.0.1:7101',
        '--cluster-token',
        'new',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^leasekv snapshot restore: ENOTDIR: not a directory/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('snapshot status and restore of a folder, or of a data dir snapshot.snap: what it is, not EISDIR', async () => {
  // Session 12 audit: a folder gave 'EISDIR: illegal operation on a directory, read', and a data dir's
  // snapshot.snap (the file an operator may take for a backup) only 'bad magic'.
  const root = mkdtempSync(join(tmpdir(), 'leasekv-snapfiles-'));
  try {
    const snap = join(root, 'snapshot.snap');
    writeFileSync(snap, Buffer.concat([Buffer.from('LKVSNAP1'), Buffer.alloc(64)]));
    const restore = [
      '--data-dir',
      join(root, 'd'),
      '--id',
      'n1',
      '--peers',
      'n1=127.0.0.1:7101',
      '--cluster-token',
      'new',
    ];
    for (const [args, want] of [
      [['snapshot', 'status', root], /^leasekv snapshot status: .*: a folder, not a backup file/],
      [['snapshot', 'restore', root, ...restore], /^leasekv snapshot restore: .*: a folder, not a backup file/],
      [
        ['snapshot', 'restore', snap, ...restore],
        /not a leasekv backup but a data dir's snapshot file .*snapshot save/,
      ],
    ] as const) {
      const r = await leasekv([...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
