// What applying a command returns, and its binary form (session caches travel in snapshots).
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

export type ApplyResult =
  /** prev: the value the key had before, if it existed. */
  | { readonly op: 'put'; readonly prev?: string }
  | { readonly op: 'delete'; readonly deleted: boolean }
  /** current: when not swapped, the key's actual value (absent if the key is absent). */
  | { readonly op: 'cas'; readonly swapped: boolean; readonly current?: string }
  /** The client's seq is older than the last one applied for it: the answer is no longer known. */
  | { readonly op: 'session-stale'; readonly clientId: string; readonly seq: number; readonly lastSeq: number }
  /**
   * No session is known for this client and seq > 1: it was evicted or expired, so a retry cannot
   * be told from a first attempt. The client must start a new session (new clientId, seq 1).
   */
  | { readonly op: 'session-expired'; readonly clientId: string; readonly seq: number }
  /** The entry's bytes are not a valid command (CommandDecodeError); nothing was changed. */
  | { readonly op: 'invalid'; readonly reason: string };

const TAG = { put: 1, delete: 2, cas: 3, 'session-stale': 4, 'session-expired': 5, invalid: 6 } as const;

const FLAG_HAS_VALUE = 1;

export function writeResult(w: ByteWriter, r: ApplyResult): void {
  w.u8(TAG[r.op]);
  switch (r.op) {
    case 'put':
      optionalStr(w, r.prev, 0);
      return;
    case 'delete':
      w.u8(r.deleted ? 1 : 0);
      return;
    case 'cas':
      optionalStr(w, r.current, r.swapped ? 2 : 0);
      return;
    case 'session-stale':
      w.str(r.clientId);
      w.varint(r.seq);
      w.varint(r.lastSeq);
      return;
    case 'session-expired':
      w.str(r.clientId);
      w.varint(r.seq);
      return;
    case 'invalid':
      w.str(r.reason);
      return;
  }
}

function optionalStr(w: ByteWriter, s: string | undefined, extraFlags: number): void {
  w.u8((s === undefined ? 0 : FLAG_HAS_VALUE) | extraFlags);
  if (s !== undefined) w.str(s);
}

export function readResult(r: ByteReader, fail: (m: string) => Error): ApplyResult {
  const tag = r.u8('result tag');
  switch (tag) {
    case TAG.put: {
      const flags = r.u8('put flags');
      return (flags & FLAG_HAS_VALUE) !== 0 ? { op: 'put', prev: r.str('prev') } : { op: 'put' };
    }
    case TAG.delete:
      return { op: 'delete', deleted: r.u8('deleted') === 1 };
    case TAG.cas: {
      const flags = r.u8('cas flags');
      const swapped = (flags & 2) !== 0;
      return (flags & FLAG_HAS_VALUE) !== 0 ? { op: 'cas', swapped, current: r.str('current') } : { op: 'cas', swapped };
    }
    case TAG['session-stale']:
      return { op: 'session-stale', clientId: r.str('clientId'), seq: r.varint('seq'), lastSeq: r.varint('lastSeq') };
    case TAG['session-expired']:
      return { op: 'session-expired', clientId: r.str('clientId'), seq: r.varint('seq') };
    case TAG.invalid:
      return { op: 'invalid', reason: r.str('reason') };
    default:
      throw fail(`unknown result tag ${tag}`);
  }
}
