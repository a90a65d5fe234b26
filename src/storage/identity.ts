// The identity record of a data dir (docs/storage.md "Cluster identity"): which cluster this folder
// belongs to, which member it is (id + incarnation), the configuration the cluster was bootstrapped
// with, and the incarnations this member has learned of its peers. One small file, `identity`,
// replaced atomically (temp file, fsync, rename, fsync the folder) and checksummed: a folder whose
// identity cannot be read is refused, never re-bootstrapped.
//
// File format: one header line `leasekv-identity 1 CRC` (CRC32C of the body, 8 hex digits), then
// the body, a JSON object. The record is tiny and rewritten rarely (bootstrap, join, the first
// contact with each peer), so a separate file is simpler than a record type in the WAL.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from './crc32c.ts';
import { StorageCorruptError } from './errors.ts';

export const IDENTITY_FILE = 'identity';
const HEADER = 'leasekv-identity 1';

export interface MemberRecord {
  readonly id: string;
  /** HOST:PORT the other members dial. */
  readonly peerAddr: string;
  /** HOST:PORT clients use ('' when not known). */
  readonly clientAddr: string;
}

export interface IdentityRecord {
  /** Derived at bootstrap (cluster token + member ids, see server/identity.ts); fixed for life. */
  readonly clusterId: string;
  readonly clusterToken: string;
  readonly memberId: string;
  /** Random, chosen when this folder became this member: a wiped folder gets another one. */
  readonly incarnation: string;
  /** 'bootstrap': one of the cluster's first members; 'join': added by `leasekv member add`. */
  readonly how: 'bootstrap' | 'join';
  readonly createdAt: string;
  /** The configuration this member started with (bootstrap: --peers/--client-addrs as given). */
  readonly initialMembers: readonly MemberRecord[];
  /** Incarnations of the other members, recorded the first time each connected. */
  readonly peerIncarnations: Readonly<Record<string, string>>;
  /** The data format of the folder (data_format.ts); absent in folders written before 0.2.0. */
  readonly dataFormat?: number;
  /** The leasekv version that last opened the folder for writing (from 0.2.0 on). */
  readonly writtenBy?: string;
}

function corrupt(dir: string, reason: string): StorageCorruptError {
  return new StorageCorruptError(join(dir, IDENTITY_FILE), 0, reason);
}

/** The record in `dir`, or null when there is none. Throws StorageCorruptError when it is damaged. */
export function readIdentity(dir: string): IdentityRecord | null {
  let text: Buffer;
  try {
    text = readFileSync(join(dir, IDENTITY_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const nl = text.indexOf(0x0a);
  const header = nl < 0 ? '' : text.subarray(0, nl).toString('utf8');
  const m = /^leasekv-identity 1 ([0-9a-f]{8})$/.exec(header);
  if (m === null) throw corrupt(dir, 'not an identity record (bad header)');
  const body = text.subarray(nl + 1);
  if (crc32c(body).toString(16).padStart(8, '0') !== m[1]) throw corrupt(dir, 'identity record fails its checksum');
  let rec: unknown;
  try {
    rec = JSON.parse(body.toString('utf8'));
  } catch {
    throw corrupt(dir, 'identity record is not JSON');
  }
  if (!isRecord(rec)) throw corrupt(dir, 'identity record is missing fields');
  return rec;
}

function isRecord(r: unknown): r is IdentityRecord {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as Record<string, unknown>;
  const str = (k: string): boolean => typeof x[k] === 'string' && x[k] !== '';
  return (
    str('clusterId') &&
    str('clusterToken') &&
    str('memberId') &&
    str('incarnation') &&
    (x['how'] === 'bootstrap' || x['how'] === 'join') &&
    Array.isArray(x['initialMembers']) &&
    (x['initialMembers'] as unknown[]).every(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        typeof (m as MemberRecord).id === 'string' &&
        typeof (m as MemberRecord).peerAddr === 'string' &&
        typeof (m as MemberRecord).clientAddr === 'string',
    ) &&
    typeof x['peerIncarnations'] === 'object' &&
    x['peerIncarnations'] !== null &&
    (x['dataFormat'] === undefined || (Number.isSafeInteger(x['dataFormat']) && (x['dataFormat'] as number) > 0)) &&
    (x['writtenBy'] === undefined || typeof x['writtenBy'] === 'string')
  );
}

/** Durably replaces the record: temp file, fsync, rename, fsync the folder. */
export function writeIdentity(dir: string, rec: IdentityRecord): void {
  const body = Buffer.from(JSON.stringify(rec, null, 2) + '\n', 'utf8');
  const head = Buffer.from(`${HEADER} ${crc32c(body).toString(16).padStart(8, '0')}\n`, 'utf8');
  const tmp = join(dir, `${IDENTITY_FILE}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, head);
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, IDENTITY_FILE));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
