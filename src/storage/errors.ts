// Operating errors of the storage layer (typed so the server can catch them and refuse to start).

/**
 * How an operator recovers a node whose data cannot be trusted (docs/storage.md "How to recover a
 * corrupt node"). Not "wipe and rejoin": an empty data dir has forgotten its vote (issue 12).
 */
export const RECOVERY_HINT =
  'replace this member: keep its data dir aside for a post-mortem, run `leasekv member remove ID`, then `leasekv member add` a new member (another id, empty data dir) and start it with --join; never restart it under the same id with an emptied data dir (docs/storage.md "How to recover a corrupt node")';

/**
 * The data directory holds damaged or inconsistent data that may include acknowledged records:
 * a bad checksum outside the tail of the last segment, a missing segment, a corrupt snapshot.
 * The node must not start on it (never silently drop a record that may have been acknowledged).
 */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`storage corrupt: ${file} at byte ${offset}: ${reason}. To recover: ${RECOVERY_HINT}.`);
  }
}
