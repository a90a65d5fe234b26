// The backup file of `leasekv snapshot save` (docs/storage.md, "Backup file"):
//
//   "LKVBAK01" | u32 LE header length | header (UTF-8 JSON) | data | SHA-256 of everything before (32 bytes)
//
// `data` is the state machine's snapshot (src/kv/snapshot.ts: keys, values, client sessions, with its
// own CRC32); the header says what it is. The SHA-256 covers the magic, the header and the data, so any
// flipped byte anywhere is refused before the file is trusted.
import { createHash } from 'node:crypto';

const MAGIC = new TextEncoder().encode('LKVBAK01');
export const BACKUP_FORMAT_VERSION = 1;
const HASH_BYTES = 32;
/** A header is a few hundred bytes; this bound keeps a damaged length field from asking for gigabytes. */
const MAX_HEADER_BYTES = 1 << 20;

export interface BackupMember {
  readonly id: string;
  readonly peerAddr: string;
  readonly clientAddr: string;
}

export interface BackupHeader {
  readonly format: number;
  /** The applied index (and its term) the state is at: at least the read point of the save. */
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  readonly dataBytes: number;
  /** The source cluster's identity: its --cluster-token. A restore must use another one. */
  readonly clusterToken: string;
  readonly members: readonly BackupMember[];
  /** The leader that produced it. */
  readonly node: string;
  /** Wall-clock time on that leader (ISO 8601), for people. */
  readonly createdAt: string;
}

/** The file is damaged, truncated or not a backup. An operating error: the CLI says so and exits 1. */
export class BackupFileError extends Error {
  override readonly name = 'BackupFileError';
}

/** The hash is computed in slices this large, with a yield between them (see encodeBackupAsync). */
const HASH_SLICE_BYTES = 4 << 20;

function prefixOf(header: Omit<BackupHeader, 'format' | 'dataBytes'>, data: Uint8Array): Uint8Array {
  const full: BackupHeader = { format: BACKUP_FORMAT_VERSION, ...header, dataBytes: data.length };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const prefix = new Uint8Array(MAGIC.length + 4 + json.length);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(MAGIC.length, json.length, true);
  prefix.set(json, MAGIC.length + 4);
  return prefix;
}

function asBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The file as its three parts, in order: magic + length + header, data, SHA-256. */
export function encodeBackup(header: Omit<BackupHeader, 'format' | 'dataBytes'>, data: Uint8Array): Uint8Array[] {
  const prefix = prefixOf(header, data);
  return [prefix, data, asBytes(createHash('sha256').update(prefix).update(data).digest())];
}

/**
 * encodeBackup that yields to the event loop between 4 MiB slices of hashing: on a leader, hashing
 * a large state in one go would hold up heartbeats and lease renewal for hundreds of milliseconds.
 */
export async function encodeBackupAsync(
  header: Omit<BackupHeader, 'format' | 'dataBytes'>,
  data: Uint8Array,
): Promise<Uint8Array[]> {
  const prefix = prefixOf(header, data);
  const hash = createHash('sha256').update(prefix);
  for (let off = 0; off < data.length; off += HASH_SLICE_BYTES) {
    hash.update(data.subarray(off, off + HASH_SLICE_BYTES));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return [prefix, data, asBytes(hash.digest())];
}

export interface DecodedBackup {
  readonly header: BackupHeader;
  readonly data: Uint8Array;
  /** Hex SHA-256 of everything before the checksum (as stored, and verified). */
  readonly sha256: string;
}

/** Verifies the checksum, then reads the header; throws BackupFileError naming what is wrong. */
export function decodeBackup(b: Uint8Array): DecodedBackup {
  if (b.length < MAGIC.length + 4 + HASH_BYTES)
    throw new BackupFileError(`not a leasekv backup: ${b.length} bytes is too short`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (b[i] === MAGIC[i]) continue;
    // A data dir's snapshot.snap is not a backup: it has no cluster token or members, and a copy of a
    // running member's is no consistent state of the cluster.
    const snap = Buffer.from(b.subarray(0, 8)).toString('latin1') === 'LKVSNAP1';
    throw new BackupFileError(
      snap
        ? "not a leasekv backup but a data dir's snapshot file (LKVSNAP1): take a backup with `leasekv snapshot save FILE` from the running cluster"
        : 'not a leasekv backup (bad magic; expected LKVBAK01)',
    );
  }
  const bodyEnd = b.length - HASH_BYTES;
  const want = createHash('sha256').update(b.subarray(0, bodyEnd)).digest();
  if (!want.equals(b.subarray(bodyEnd))) {
    throw new BackupFileError(
      `checksum mismatch: the file is damaged or truncated (SHA-256 of its ${bodyEnd} bytes is ${want.toString('hex').slice(0, 16)}…, the file says ${Buffer.from(b.subarray(bodyEnd)).toString('hex').slice(0, 16)}…)`,
    );
  }
  const headerLen = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(MAGIC.length, true);
  const headerStart = MAGIC.length + 4;
  if (headerLen > MAX_HEADER_BYTES || headerStart + headerLen > bodyEnd)
    throw new BackupFileError(`header length ${headerLen} runs past the end`);
  const header = parseHeader(b.subarray(headerStart, headerStart + headerLen));
  const data = b.subarray(headerStart + headerLen, bodyEnd);
  if (data.length !== header.dataBytes)
    throw new BackupFileError(`header says ${header.dataBytes} data bytes, the file holds ${data.length}`);
  return { header, data, sha256: want.toString('hex') };
}

function parseHeader(bytes: Uint8Array): BackupHeader {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new BackupFileError(`unreadable header: ${(e as Error).message}`);
  }
  if (v['format'] !== BACKUP_FORMAT_VERSION)
    throw new BackupFileError(
      `backup format ${String(v['format'])} is not supported (this leasekv reads format ${BACKUP_FORMAT_VERSION})`,
    );
  const int = (k: string): number => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      throw new BackupFileError(`header field ${k} is not a non-negative integer`);
    return x;
  };
  const str = (k: string): string => {
    const x = v[k];
    if (typeof x !== 'string') throw new BackupFileError(`header field ${k} is not a string`);
    return x;
  };
  const members = v['members'];
  if (!Array.isArray(members)) throw new BackupFileError('header field members is not a list');
  return {
    format: BACKUP_FORMAT_VERSION,
    index: int('index'),
    term: int('term'),
    keys: int('keys'),
    dataBytes: int('dataBytes'),
    clusterToken: str('clusterToken'),
    members: members.map((m: unknown) => {
      const o = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
      return {
        id: String(o['id'] ?? ''),
        peerAddr: String(o['peerAddr'] ?? ''),
        clientAddr: String(o['clientAddr'] ?? ''),
      };
    }),
    node: str('node'),
    createdAt: str('createdAt'),
  };
}
