// A batch of plain persist requests (entries and hard state, nothing about snapshots) packed into one
// ArrayBuffer that is transferred to the WAL worker instead of structured-cloned (issue 16, session
// 14). The clone of an array of requests, each with an object and a view per entry, cost ~12 % of a
// follower's consensus thread's hand-off and ~20 % of its WAL worker's time (V8's object serializer
// and deserializer, property by property); the packed form is written with a DataView and a copy of
// each entry's bytes, and read back in the worker as entries whose data are views of the buffer.
// In-process only: nothing packed here is ever written to disk or sent to a peer.
//
// Layout (little-endian): u32 request count, then per request
//   u8 flags (HAS_HARD_STATE, NO_SYNC) | u32 entry count
//   [hard state: f64 term | f64 commit | u16 votedFor length (NULL_ID: null) | votedFor UTF-8]
//   entries: f64 index | f64 term | u8 type | u32 data length | data
// Integers are safe integers, exact as float64.
import { Buffer } from 'node:buffer';
import type { Entry, EntryType, HardState } from '../raft/types.ts';

/** The part of a persist request (backend.ts) that is packed: entries, hard state, whether to sync. */
export interface PlainRequest {
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
  readonly sync?: boolean;
}

/** A persist request as packable() sees it (backend.ts's PersistRequest). */
interface AnyRequest extends PlainRequest {
  readonly snapshot?: unknown;
  readonly receivedFile?: unknown;
  readonly savedSnapshot?: unknown;
}

const HAS_HARD_STATE = 1;
const NO_SYNC = 2;
const NULL_ID = 0xffff;
const REQUEST_HEAD_BYTES = 1 + 4;
const HARD_STATE_BYTES = 8 + 8 + 2;
const ENTRY_HEAD_BYTES = 8 + 8 + 1 + 4;

/** Whether `r` can be packed: entries and hard state only (snapshot requests keep the cloned path). */
export function packable(r: AnyRequest): boolean {
  return (
    r.snapshot === undefined &&
    r.receivedFile === undefined &&
    r.savedSnapshot === undefined &&
    (r.hardState === null || r.hardState.votedFor === null || r.hardState.votedFor.length < NULL_ID / 3)
  );
}

/** Packs `reqs` (every one packable) into a new ArrayBuffer of exactly the bytes written. */
export function packBatch(reqs: readonly PlainRequest[]): ArrayBuffer {
  let bytes = 4;
  for (const r of reqs) {
    bytes += REQUEST_HEAD_BYTES;
    if (r.hardState !== null) bytes += HARD_STATE_BYTES + 3 * (r.hardState.votedFor?.length ?? 0);
    for (const e of r.entries) bytes += ENTRY_HEAD_BYTES + e.data.length;
  }
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, reqs.length, true);
  let at = 4;
  for (const r of reqs) {
    const hs = r.hardState;
    view.setUint8(at, (hs === null ? 0 : HAS_HARD_STATE) | (r.sync === false ? NO_SYNC : 0));
    view.setUint32(at + 1, r.entries.length, true);
    at += REQUEST_HEAD_BYTES;
    if (hs !== null) {
      view.setFloat64(at, hs.term, true);
      view.setFloat64(at + 8, hs.commit, true);
      at += HARD_STATE_BYTES;
      if (hs.votedFor === null) view.setUint16(at - 2, NULL_ID, true);
      else {
        // At most 3 bytes per UTF-16 unit, counted above.
        const n = Buffer.from(out.buffer).write(hs.votedFor, at, 'utf8');
        view.setUint16(at - 2, n, true);
        at += n;
      }
    }
    for (const e of r.entries) {
      view.setFloat64(at, e.index, true);
      view.setFloat64(at + 8, e.term, true);
      view.setUint8(at + 16, e.type);
      view.setUint32(at + 17, e.data.length, true);
      out.set(e.data, at + ENTRY_HEAD_BYTES);
      at += ENTRY_HEAD_BYTES + e.data.length;
    }
  }
  // The votedFor estimate may exceed what was written: the rest is never read (counts say where to stop).
  return out.buffer;
}

/** The requests packBatch packed; each entry's data is a view of `buf`. Throws on a malformed buffer. */
export function unpackBatch(buf: ArrayBuffer): PlainRequest[] {
  const view = new DataView(buf);
  const reqs: PlainRequest[] = [];
  const count = view.getUint32(0, true);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const flags = view.getUint8(at);
    const n = view.getUint32(at + 1, true);
    at += REQUEST_HEAD_BYTES;
    let hardState: HardState | null = null;
    if ((flags & HAS_HARD_STATE) !== 0) {
      const term = view.getFloat64(at, true);
      const commit = view.getFloat64(at + 8, true);
      const idBytes = view.getUint16(at + 16, true);
      at += HARD_STATE_BYTES;
      let votedFor: string | null = null;
      if (idBytes !== NULL_ID) {
        votedFor = Buffer.from(buf, at, idBytes).toString('utf8');
        at += idBytes;
      }
      hardState = { term, commit, votedFor };
    }
    const entries: Entry[] = [];
    for (let k = 0; k < n; k++) {
      const dataBytes = view.getUint32(at + 17, true);
      entries.push({
        index: view.getFloat64(at, true),
        term: view.getFloat64(at + 8, true),
        type: view.getUint8(at + 16) as EntryType,
        data: new Uint8Array(buf, at + ENTRY_HEAD_BYTES, dataBytes),
      });
      at += ENTRY_HEAD_BYTES + dataBytes;
    }
    reqs.push((flags & NO_SYNC) !== 0 ? { entries, hardState, sync: false } : { entries, hardState });
  }
  return reqs;
}
