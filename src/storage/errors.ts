// Operating errors of the storage layer (typed so the server can catch them and refuse to start).

/** How an operator recovers a node whose data cannot be trusted (issue 4; docs/storage.md). */
export const RECOVERY_HINT = "wipe this node's data dir and let it rejoin from its peers";

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
