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
  override readonly name: string = 'StorageCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`storage corrupt: ${file} at byte ${offset}: ${reason}. To recover: ${RECOVERY_HINT}.`);
  }
}

/**
 * A WAL segment is shorter than the size it was created with (and fsynced at, before it got its
 * name): something cut it — a copy that did not finish, a file system that lost its end, a
 * `truncate`. A crash never shortens a segment, so this is not a torn write, and the records past
 * the cut were fsynced and may have been acknowledged (docs/storage.md "Cuts and torn writes").
 */
export class WalCutError extends StorageCorruptError {
  override readonly name: string = 'WalCutError';
  constructor(
    file: string,
    readonly sizeBytes: number,
    /** The size it was created with; null when its first record (which records it) is cut away too. */
    readonly expectedBytes: number | null,
    what: string,
  ) {
    const created =
      expectedBytes === null
        ? 'was created with its first records fsynced before it got its name (as the segment before it was)'
        : `was created (and fsynced) at ${expectedBytes} bytes`;
    const why = `${what}: the file is ${sizeBytes} bytes but ${created}, so it was cut short — by a copy that did not finish, a file system that lost its end, or a truncate — not torn by a crash, and records past byte ${sizeBytes} were fsynced and may have been acknowledged`;
    super(file, sizeBytes, why);
    this.message = `storage corrupt: ${file} at byte ${sizeBytes}: ${why}. To recover: if this data dir was copied or restored from a backup, stop the member and copy it again whole from its source; otherwise ${RECOVERY_HINT}.`;
  }
}

/**
 * The last WAL segment in the folder carries a seal (segment_seal.ts): the log went on in the next
 * segment, which was created whole and fsynced before the seal was written, and that file is gone —
 * deleted with any after it (an `rm`, a copy that skipped the newest files, a backup restored
 * without them), not lost in a crash. Its records were fsynced and may have been acknowledged,
 * the member's latest term and vote among them (docs/storage.md "Seals").
 */
export class WalSegmentMissingError extends StorageCorruptError {
  override readonly name: string = 'WalSegmentMissingError';
  constructor(
    /** The missing segment (the one the seal names). */
    file: string,
    /** The sealed segment, now the last one in the folder. */
    readonly sealedFile: string,
  ) {
    const why = `WAL segment missing: ${sealedFile} is sealed (its last record says the log goes on in ${file}, and was written only after that file had been created and fsynced), but ${file} is not in the data dir: it, and any segment after it, was deleted (an rm, a copy that skipped the newest files, a backup restored without them), not lost in a crash, and records in it were fsynced and may have been acknowledged (entries, the member's latest term and vote)`;
    super(file, 0, why);
    this.message = `storage corrupt: ${why}. To recover: if this data dir was copied or restored from a backup, stop the member and copy it again whole from its source, with every *.wal file (from a stopped member: a running one's files change while they are copied); otherwise ${RECOVERY_HINT}.`;
  }
}
