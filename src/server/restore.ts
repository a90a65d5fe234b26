// Backup files, checked and restored (docs/storage.md, "Backup file"; docs/api.md, "Backup and
// restore"). `leasekv snapshot save|status|restore` use these.
//
// A restore writes the data dir of a member of a NEW cluster through the same storage path a follower
// uses to install a snapshot from its leader (openNodeStorage → persist: snapshot, then hard state,
// one fsync), so the data dir is whatever the current storage format is. Every member of the new
// cluster is restored from the same file with the same --peers; they start with identical state at
// the backup's index and elect a leader among themselves.
import { existsSync, readdirSync } from 'node:fs';
import { KvStateMachine, SnapshotDecodeError } from '../kv/index.ts';
import { BackupFileError, decodeBackup, type DecodedBackup } from '../storage/backup_file.ts';
import { acquireDirLock } from '../storage/dir_lock.ts';
import { makeDirs, RealFs } from '../storage/fs.ts';
import { recoverDir } from '../storage/recovery.ts';
import { assert } from '../util/assert.ts';
import type { NodeConfig } from './config.ts';
import { resolveIdentity } from './identity.ts';
import { openNodeStorage } from './storage-adapter.ts';

/** Restore refused for a reason the operator can fix (not a damaged file: that is BackupFileError). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

/**
 * Checks a whole backup: the file's SHA-256, its header, and that the state machine snapshot inside
 * decodes (its own CRC) to the header's index and key count. Throws BackupFileError.
 */
export function verifyBackup(bytes: Uint8Array): DecodedBackup {
  const b = decodeBackup(bytes);
  let kv: KvStateMachine;
  try {
    kv = KvStateMachine.restore(b.data);
  } catch (e) {
    if (e instanceof SnapshotDecodeError) throw new BackupFileError(`the state inside is unreadable: ${e.message}`);
    throw e;
  }
  if (kv.appliedIndex !== b.header.index || kv.size !== b.header.keys) {
    throw new BackupFileError(
      `header says index ${b.header.index} with ${b.header.keys} keys, the state inside is at index ${kv.appliedIndex} with ${kv.size} keys`,
    );
  }
  return b;
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * Writes `cfg.dataDir` as a member of a new cluster (`cfg.peers`) seeded with the backup. Refuses a
 * non-empty data dir and the backup's own cluster token (the new cluster must not be able to talk
 * to the old one: peers with another token are refused).
 */
export async function restoreDataDir(cfg: NodeConfig, backup: DecodedBackup): Promise<void> {
  const { header, data } = backup;
  if (cfg.clusterToken === header.clusterToken) {
    throw new RestoreError(
      `--cluster-token '${cfg.clusterToken}' is the backed-up cluster's own; give the restored cluster a new one (the same on every restored member), so that it and the old cluster refuse each other`,
    );
  }
  if (!isEmptyDir(cfg.dataDir))
    throw new RestoreError(
      `data dir ${cfg.dataDir} is not empty; restore writes a new member's data dir: give a new or empty folder`,
    );
  if (!cfg.peersGiven) throw new RestoreError('--peers is required: the members of the new cluster');
  makeDirs(cfg.dataDir);
  const lock = acquireDirLock(cfg.dataDir);
  try {
    const opened = await openNodeStorage(cfg.dataDir);
    try {
      if (!opened.fresh) throw new RestoreError(`data dir ${cfg.dataDir} already holds a log`);
      // The identity of a member of a brand-new cluster, as serve records it at a bootstrap: the
      // cluster id derives from the new token and members, and the incarnation is new.
      resolveIdentity(cfg, true, null);
      await opened.storage.persist({
        entries: [],
        hardState: { term: header.term, votedFor: null, commit: header.index },
        snapshot: {
          meta: {
            index: header.index,
            term: header.term,
            confState: { voters: [...cfg.peers.keys()], learners: [], removed: [] },
          },
          data,
        },
        sync: true,
      });
    } finally {
      await opened.storage.close();
    }
    // Read back what a starting node will read.
    const rec = recoverDir(new RealFs(), cfg.dataDir);
    assert(
      rec.snapshot?.index === header.index && rec.hardState.commit === header.index,
      () => `restored data dir reads back at snapshot ${rec.snapshot?.index ?? 'none'}, commit ${rec.hardState.commit}`,
    );
  } finally {
    lock.release();
  }
}
