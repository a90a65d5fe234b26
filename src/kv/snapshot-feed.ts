// Decoding a snapshot fed a piece at a time (issue 16): a snapshot received from the leader is
// restored from its spool file in pieces, never read back into one buffer of its size. Same format
// and the same checks as decodeSnapshot (snapshot.ts); the key section is cut into pages as its
// bytes come (a page never spans two pieces), and the CRC32 is checked at the end, before the state
// is handed out. Formats before 5 (keys one by one) are gathered whole and decoded as before.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { ByteReader } from '../util/bytes.ts';
import { cursor, readVarint } from './page-codec.ts';
import { SessionTable, type SessionConfig } from './sessions.ts';
import {
  checkRevisions,
  cutPage,
  decodeSnapshot,
  MAGIC,
  RESTORE_PAGE_BYTES,
  runSync,
  snapFail,
  SNAPSHOT_VERSION,
  SnapshotDecodeError,
  type DecodedState,
} from './snapshot.ts';
import { compareBytes, KeyStore, type Page } from './store.ts';
import { TtlTable } from './ttl.ts';

/** The header's bytes are at most this many (magic, version, seven varints). */
const HEAD_MAX_BYTES = 4 + 1 + 7 * 10;

interface Head {
  readonly version: number;
  readonly applied: number;
  readonly appliedTerm: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly count: number;
  readonly keyBytes: number;
}

export class SnapshotFeed {
  private crc = 0;
  /** The last 4 bytes fed: the CRC32 if no more come (not yet in `crc`). */
  private held: Buffer = Buffer.alloc(0);
  /** Bytes fed and not yet decoded (the header, an entry cut by a piece's end, the sections after the keys). */
  private pending: Buffer = Buffer.alloc(0);
  private head: Head | null = null;
  /** Formats before 5: every piece, decoded whole at the end. */
  private old: Buffer[] | null = null;
  private readonly pages: Page[] = [];
  private keysSeen = 0;
  private keyBytesSeen = 0;
  private dataBytes = 0;
  /** The last key decoded (a copy): keys must be strictly ascending across pieces too. */
  private prevKey: Buffer | null = null;
  private fedBytes = 0;

  constructor(private readonly sessionConfig: SessionConfig) {}

  /**
   * Decodes what it can of the next bytes; throws SnapshotDecodeError on bad bytes. Keeps no view
   * of `piece` after it returns (what is kept is copied): the caller may reuse its memory.
   */
  feed(piece: Uint8Array): void {
    this.fedBytes += piece.length;
    this.checksum(piece);
    if (this.old !== null) return void this.old.push(Buffer.from(piece));
    // A view, not a copy, when nothing waits: readKeys copies only the bytes it leaves pending (an
    // entry cut by the piece's end), and the pages it cuts are copies — one 2 MiB copy less per
    // piece, and no piece-sized garbage (issue 16).
    this.pending =
      this.pending.length === 0
        ? Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
        : Buffer.concat([this.pending, piece]);
    if (this.head === null) {
      if (this.pending.length < HEAD_MAX_BYTES) return void (this.pending = Buffer.from(this.pending));
      this.readHead(false);
      if (this.old !== null) return;
    }
    this.readKeys(false);
  }

  /** All the bytes were fed: the state, checked (CRC32 included). */
  finish(): DecodedState {
    if (this.fedBytes < MAGIC.length + 5) throw new SnapshotDecodeError('snapshot too short');
    if (this.head === null) this.readHead(true);
    if (this.old !== null) return runSync(decodeSnapshot(Buffer.concat(this.old), this.sessionConfig));
    this.readKeys(true);
    if (this.held.length !== 4 || this.held.readUInt32BE(0) !== this.crc)
      throw new SnapshotDecodeError('snapshot CRC mismatch');
    const h = this.head as Head;
    // What is left: the sections after the keys, and the CRC32 (in `held`, not decoded).
    const r = new ByteReader(this.pending.subarray(0, this.pending.length - 4), snapFail, false);
    const store = KeyStore.fromPages(this.pages, this.dataBytes);
    const sessions = new SessionTable(this.sessionConfig);
    sessions.read(r, snapFail);
    const memberBytes = r.bytes('membership table');
    const ttls = new TtlTable();
    ttls.read(r, snapFail, (k) => store.get(k)?.value);
    const authBytes = h.version < 6 ? new Uint8Array(0) : r.bytes('users and roles');
    r.expectEnd('snapshot');
    const { applied, appliedTerm, revision, compactRevision } = h;
    return { applied, appliedTerm, revision, compactRevision, store, sessions, ttls, memberBytes, authBytes };
  }

  /** The CRC32 runs over every byte but the last 4 fed. */
  private checksum(piece: Uint8Array): void {
    if (piece.length >= 4) {
      this.crc = crc32(piece.subarray(0, piece.length - 4), crc32(this.held, this.crc));
      this.held = Buffer.from(piece.subarray(piece.length - 4));
      return;
    }
    const all = Buffer.concat([this.held, piece]);
    const upTo = Math.max(0, all.length - 4);
    this.crc = crc32(all.subarray(0, upTo), this.crc);
    this.held = Buffer.from(all.subarray(upTo));
  }

  private readHead(final: boolean): void {
    const b = this.pending;
    if (b.length < MAGIC.length + 1) throw new SnapshotDecodeError('snapshot too short');
    if (!b.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotDecodeError('bad snapshot magic');
    const version = b[MAGIC.length] as number;
    if (version < 1 || version > SNAPSHOT_VERSION) throw new SnapshotDecodeError(`unknown snapshot version ${version}`);
    if (version < 5) {
      this.old = [Buffer.from(b)];
      this.pending = Buffer.alloc(0);
      return;
    }
    // Only the final call may see a header cut short (a tiny snapshot): then the reader says so.
    const r = new ByteReader(final ? b.subarray(0, b.length - 4) : b, snapFail, false);
    r.u8('magic');
    r.u8('magic');
    r.u8('magic');
    r.u8('magic');
    r.u8('version');
    const applied = r.varint('appliedIndex');
    const appliedTerm = r.varint('appliedTerm');
    const revision = r.varint('revision');
    const compactRevision = r.varint('compactRevision');
    if (compactRevision > revision)
      throw new SnapshotDecodeError(`compact revision ${compactRevision} is above the revision ${revision}`);
    const count = r.varint('key count');
    const keyBytes = r.varint('key section length');
    this.head = { version, applied, appliedTerm, revision, compactRevision, count, keyBytes };
    this.pending = b.subarray(r.offset);
  }

  /** Cuts the complete entries of `pending` that are in the key section into pages. */
  private readKeys(final: boolean): void {
    const h = this.head as Head;
    const b = this.pending;
    const sectionLeft = h.keyBytes - this.keyBytesSeen;
    const end = Math.min(b.length, sectionLeft);
    const whole = end === sectionLeft; // every byte of the key section left is in `b`
    const base = this.keyBytesSeen;
    const bad = (what: string, at: number): Error =>
      new SnapshotDecodeError(`${what} at key section offset ${base + at}`);
    let offs: number[] = [];
    let pageStart = 0;
    let p = 0;
    let prevKs = -1;
    let prevKe = -1;
    while (this.keysSeen < h.count) {
      const start = p;
      // An entry cut by the piece's end waits for the next piece (the whole section here: an error).
      const klen = readVarint(b, p);
      const ks = cursor.end;
      const ke = ks + klen;
      const vlen = ke < end ? readVarint(b, ke) : 0;
      const vs = cursor.end;
      const ve = vs + vlen;
      let q = ve;
      const nums: number[] = [];
      for (let k = 0; k < 3 && q < end; k++) {
        nums.push(readVarint(b, q));
        q = cursor.end;
      }
      if (p >= end || ke >= end || ve >= end || nums.length < 3 || q > end) {
        if (whole || final) throw bad('truncated key entry', start);
        break;
      }
      if (![klen, vlen, ...nums].every(Number.isSafeInteger)) throw bad('bad varint', start);
      const prevBuf = prevKe >= 0 ? b : this.prevKey;
      const pks = prevKe >= 0 ? prevKs : 0;
      const pke = prevKe >= 0 ? prevKe : (this.prevKey?.length ?? 0);
      if (prevBuf !== null && compareBytes(prevBuf, pks, pke, b, ks, ke) >= 0)
        throw new SnapshotDecodeError('snapshot keys not strictly ascending');
      checkRevisions(nums[0] as number, nums[1] as number, nums[2] as number, h.revision);
      if (start - pageStart >= RESTORE_PAGE_BYTES) {
        this.pages.push(cutPage(b, pageStart, start, offs));
        offs = [];
        pageStart = start;
      }
      offs.push(start - pageStart);
      this.dataBytes += klen + vlen;
      this.keysSeen++;
      prevKs = ks;
      prevKe = ke;
      p = q;
    }
    if (offs.length > 0) this.pages.push(cutPage(b, pageStart, p, offs));
    if (prevKe >= 0) this.prevKey = Buffer.from(b.subarray(prevKs, prevKe));
    this.keyBytesSeen += p;
    if (this.keysSeen === h.count && this.keyBytesSeen !== h.keyBytes && (whole || final))
      throw bad('trailing bytes', p);
    // What is left: the entry cut short (copied: the piece goes), or the sections after the keys.
    this.pending = Buffer.from(b.subarray(p));
  }
}
