// The peer wire format: frames carrying raft Messages, the connection handshake and snapshot chunks.
//
// Frame: u32 bodyLength | body = u8 protocolVersion | u8 kind | payload | u32 CRC32(version..payload)
// bodyLength counts everything after itself and is checked against maxFrameBytes BEFORE any of the
// body is buffered, so a hostile length cannot make the receiver allocate. Integers are varints
// (safe integers only), durations float64, strings varint length + UTF-8, node ids 1..255 bytes.
// decodeFrame/FrameDecoder throw nothing but DecodeError, whatever the input.
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import type { Entry, Message, SnapshotMeta, SnapshotRequest } from '../raft/types.ts';
import { ByteReader, ByteWriter } from '../util/bytes.ts';
import {
  FRAME_LAYOUT_VERSION,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  readHello,
  readHelloOk,
  writeHello,
  writeHelloOk,
  type HelloFrame,
  type HelloOkFrame,
} from './codec-hello.ts';

export { FRAME_LAYOUT_VERSION, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './codec-hello.ts';
/** Length prefix + version + kind + CRC. */
export const FRAME_OVERHEAD_BYTES = 4 + 1 + 1 + 4;
const MAX_NODE_ID_BYTES = 255;
/** Largest cluster id (the cluster token) in bytes: bounds the hello (PeerTransport options check it). */
export const MAX_CLUSTER_ID_BYTES = 1024;
/**
 * Largest frame accepted before a connection's handshake is done: a hello (cluster id, two node ids,
 * the cluster uid and incarnation, short generated strings) fits many times over. A stranger cannot
 * make a node buffer a large frame before it has proved it is a member (issue 13).
 */
export const MAX_HELLO_FRAME_BYTES = 4096;

/** Bytes from the network that are not a valid frame; the connection must be dropped. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

/** Identifies one snapshot transfer; a resumed transfer must match it exactly. */
export interface TransferId {
  readonly index: number;
  readonly term: number;
  readonly totalBytes: number;
  /** CRC32 of the whole snapshot data, checked by the receiver before delivery. */
  readonly crc32: number;
}

export type Frame =
  | HelloFrame
  | HelloOkFrame
  /**
   * code 'identity': the sender is not this cluster's member with this incarnation (fatal for a new
   * member); 'removed …': the sender was removed for good (removal-notice.ts; the code carries the notice).
   */
  | { readonly kind: 'refuse'; readonly reason: string; readonly code: string }
  | { readonly kind: 'msg'; readonly msg: Message }
  | { readonly kind: 'snap-offer'; readonly id: TransferId; readonly msg: SnapshotRequest }
  | { readonly kind: 'snap-chunk'; readonly id: TransferId; readonly offset: number; readonly data: Uint8Array }
  | { readonly kind: 'snap-ack'; readonly id: TransferId; readonly offset: number; readonly rejected: boolean };

const KIND = { hello: 1, 'hello-ok': 2, refuse: 3, msg: 4, 'snap-offer': 5, 'snap-chunk': 6, 'snap-ack': 7 } as const;
const MSG_TYPE = { vote: 1, voteResp: 2, app: 3, appResp: 4, snap: 5, timeoutNow: 6 } as const;

const fail = (m: string): Error => new DecodeError(m);

// ---------------------------------------------------------------- encoding

/** Encodes one frame, length prefix included. The caller checks the length against maxFrameBytes. */
export function encodeFrame(f: Frame): Uint8Array {
  // One reusable scratch buffer (encoding is synchronous), then one right-sized copy: no per-frame
  // growth and no unpooled allocation for the many small frames. Frames are short-lived (queued,
  // written, dropped), so pooled slices are fine here.
  const w = scratch.reset();
  w.u32(0); // patched below
  w.u8(f.kind === 'hello' || f.kind === 'hello-ok' ? f.version : FRAME_LAYOUT_VERSION);
  w.u8(KIND[f.kind]);
  switch (f.kind) {
    case 'hello':
      writeHello(w, f);
      break;
    case 'hello-ok':
      writeHelloOk(w, f);
      break;
    case 'refuse':
      w.str(f.reason);
      w.str(f.code);
      break;
    case 'msg':
      writeMessage(w, f.msg);
      break;
    case 'snap-offer':
      writeTransferId(w, f.id);
      writeMessage(w, f.msg);
      break;
    case 'snap-chunk':
      writeTransferId(w, f.id);
      w.varint(f.offset);
      w.bytes(f.data);
      break;
    case 'snap-ack':
      writeTransferId(w, f.id);
      w.varint(f.offset);
      w.u8(f.rejected ? 1 : 0);
      break;
  }
  const body = w.view().subarray(4);
  w.u32(crc32(body));
  w.patchU32(0, w.length - 4);
  return w.copyOut();
}

const scratch = new ByteWriter(64 * 1024);

function writeTransferId(w: ByteWriter, id: TransferId): void {
  w.varint(id.index);
  w.varint(id.term);
  w.varint(id.totalBytes);
  w.u32(id.crc32);
}

function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(MSG_TYPE[m.type]);
  w.str(m.from);
  w.str(m.to);
  w.varint(m.term);
  switch (m.type) {
    case 'vote':
      w.u8((m.preVote ? 1 : 0) | (m.transfer ? 2 : 0));
      w.varint(m.lastLogIndex);
      w.varint(m.lastLogTerm);
      return;
    case 'voteResp':
      w.u8((m.preVote ? 1 : 0) | (m.granted ? 2 : 0));
      w.f64(m.oldLeaseRemainingMs);
      return;
    case 'app':
      w.varint(m.prevLogIndex);
      w.varint(m.prevLogTerm);
      w.varint(m.commit);
      w.f64(m.leaseDurationMs);
      w.varint(m.round);
      w.varint(m.entries.length);
      for (const e of m.entries) {
        w.varint(e.index);
        w.varint(e.term);
        w.u8(e.type);
        w.bytes(e.data);
      }
      return;
    case 'appResp':
      w.u8((m.success ? 1 : 0) | (m.rejectHint !== null ? 2 : 0));
      w.varint(m.matchIndex);
      if (m.rejectHint !== null) {
        w.varint(m.rejectHint.index);
        w.varint(m.rejectHint.term);
      }
      w.varint(m.round);
      return;
    case 'snap':
      w.varint(m.snapshot.index);
      w.varint(m.snapshot.term);
      for (const list of [
        m.snapshot.confState.voters,
        m.snapshot.confState.learners,
        m.snapshot.confState.removed ?? [],
      ]) {
        w.varint(list.length);
        for (const id of list) w.str(id);
      }
      w.f64(m.leaseDurationMs);
      w.varint(m.round);
      return;
    case 'timeoutNow':
      return;
  }
}

/** Encodes a single raft message as a frame (convenience for tests and sizing). */
export function encodeMessage(msg: Message): Uint8Array {
  return encodeFrame({ kind: 'msg', msg });
}

// ---------------------------------------------------------------- decoding

/**
 * Decodes one frame body (everything after the length prefix). Throws only DecodeError: the
 * catch-all below turns any unforeseen failure into one, so hostile bytes cannot crash a node.
 */
export function decodeFrameBody(body: Uint8Array): Frame {
  try {
    return decodeFrameBodyUnsafe(body);
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`undecodable frame: ${String(e)}`);
  }
}

function decodeFrameBodyUnsafe(body: Uint8Array): Frame {
  if (body.length < FRAME_OVERHEAD_BYTES - 4) throw new DecodeError(`frame body too short: ${body.length}`);
  const crcAt = body.length - 4;
  const stored =
    (body[crcAt] as number) * 2 ** 24 +
    (((body[crcAt + 1] as number) << 16) | ((body[crcAt + 2] as number) << 8) | (body[crcAt + 3] as number));
  if (crc32(body.subarray(0, crcAt)) !== stored) throw new DecodeError('frame CRC mismatch');
  const r = new ByteReader(body.subarray(0, crcAt), fail);
  const version = r.u8('version');
  const kind = r.u8('kind');
  // A hello of any version from 2 on is read (its version-3 fields, ignoring what a newer version
  // added after them), so that a newer dialer is told which versions this build speaks; the rest
  // must carry a version this build speaks.
  if (kind === KIND.hello && version >= MIN_PROTOCOL_VERSION) {
    const f = readHello(r, version, nodeId);
    if (f.minVersion > version) throw new DecodeError(`hello speaks versions ${f.minVersion} to ${version}`);
    if (version <= PROTOCOL_VERSION) r.expectEnd('frame');
    return f;
  }
  if (version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION)
    throw new DecodeError(
      `unsupported protocol version ${version} (this build speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`,
    );
  let f: Frame;
  switch (kind) {
    case KIND['hello-ok']:
      f = readHelloOk(r, version);
      break;
    case KIND.refuse:
      f = { kind: 'refuse', reason: r.str('reason'), code: r.str('code') };
      break;
    case KIND.msg:
      f = { kind: 'msg', msg: readMessage(r) };
      break;
    case KIND['snap-offer']: {
      const id = readTransferId(r);
      const msg = readMessage(r);
      if (msg.type !== 'snap') throw new DecodeError(`snapshot offer carries a ${msg.type} message`);
      f = { kind: 'snap-offer', id, msg };
      break;
    }
    case KIND['snap-chunk']: {
      const id = readTransferId(r);
      const offset = r.varint('offset');
      const data = r.view(r.varint('chunk length'), 'chunk');
      if (offset + data.length > id.totalBytes) throw new DecodeError('snapshot chunk past the end');
      f = { kind: 'snap-chunk', id, offset, data };
      break;
    }
    case KIND['snap-ack']: {
      const id = readTransferId(r);
      const offset = r.varint('offset');
      const flags = r.u8('ack flags');
      if (offset > id.totalBytes || flags > 1) throw new DecodeError('bad snapshot ack');
      f = { kind: 'snap-ack', id, offset, rejected: flags === 1 };
      break;
    }
    default:
      throw new DecodeError(`unknown frame kind ${kind}`);
  }
  r.expectEnd('frame');
  return f;
}

function nodeId(r: ByteReader): string {
  const id = r.str('node id');
  if (id.length === 0 || Buffer.byteLength(id) > MAX_NODE_ID_BYTES) throw new DecodeError('node id empty or too long');
  return id;
}

function duration(r: ByteReader, what: string): number {
  const v = r.f64(what);
  if (!Number.isFinite(v) || v < 0) throw new DecodeError(`${what} must be finite and >= 0: ${v}`);
  return v;
}

function flags(r: ByteReader, max: number, what: string): number {
  const v = r.u8(what);
  if (v > max) throw new DecodeError(`unknown ${what} 0x${v.toString(16)}`);
  return v;
}

function readTransferId(r: ByteReader): TransferId {
  return {
    index: r.varint('snapshot index'),
    term: r.varint('snapshot term'),
    totalBytes: r.varint('snapshot size'),
    crc32: r.u32('snapshot crc'),
  };
}

function readMessage(r: ByteReader): Message {
  const type = r.u8('message type');
  const from = nodeId(r);
  const to = nodeId(r);
  const term = r.varint('term');
  switch (type) {
    case MSG_TYPE.vote: {
      const f = flags(r, 3, 'vote flags');
      return {
        type: 'vote',
        from,
        to,
        term,
        preVote: (f & 1) !== 0,
        transfer: (f & 2) !== 0,
        lastLogIndex: r.varint(),
        lastLogTerm: r.varint(),
      };
    }
    case MSG_TYPE.voteResp: {
      const f = flags(r, 3, 'voteResp flags');
      return {
        type: 'voteResp',
        from,
        to,
        term,
        preVote: (f & 1) !== 0,
        granted: (f & 2) !== 0,
        oldLeaseRemainingMs: duration(r, 'oldLeaseRemainingMs'),
      };
    }
    case MSG_TYPE.app:
      return {
        type: 'app',
        from,
        to,
        term,
        prevLogIndex: r.varint(),
        prevLogTerm: r.varint(),
        commit: r.varint(),
        leaseDurationMs: duration(r, 'leaseDurationMs'),
        round: r.varint(),
        entries: readEntries(r),
      };
    case MSG_TYPE.appResp: {
      const f = flags(r, 3, 'appResp flags');
      const matchIndex = r.varint();
      const rejectHint = (f & 2) !== 0 ? { index: r.varint(), term: r.varint() } : null;
      return { type: 'appResp', from, to, term, success: (f & 1) !== 0, matchIndex, rejectHint, round: r.varint() };
    }
    case MSG_TYPE.snap: {
      const snapshot = readSnapshotMeta(r);
      return {
        type: 'snap',
        from,
        to,
        term,
        snapshot,
        leaseDurationMs: duration(r, 'leaseDurationMs'),
        round: r.varint(),
      };
    }
    case MSG_TYPE.timeoutNow:
      return { type: 'timeoutNow', from, to, term };
    default:
      throw new DecodeError(`unknown message type ${type}`);
  }
}

function readEntries(r: ByteReader): Entry[] {
  const count = r.varint('entry count');
  // Each entry takes at least 4 bytes: a hostile count cannot make us allocate more than the frame.
  if (count > r.remaining / 4) throw new DecodeError(`entry count ${count} exceeds frame`);
  const entries: Entry[] = [];
  if (count === 0) return entries;
  // An entry kept in the log must not pin the whole network frame in memory, so its data is copied;
  // the entries end the frame, so one copy of the rest serves them all and each entry's data is a
  // view of it (issue 16): one allocation per frame instead of one per entry, here and in the WAL
  // worker (a structured clone copies a buffer its views share once). The log keeps and drops a
  // frame's entries together, so the shared copy holds little else.
  const own = new ByteReader(Uint8Array.prototype.slice.call(r.view(r.remaining, 'entries')), fail);
  for (let i = 0; i < count; i++) {
    const index = own.varint('entry index');
    const term = own.varint('entry term');
    const type = own.u8('entry type');
    if (type !== 0 && type !== 1 && type !== 2) throw new DecodeError(`unknown entry type ${type}`);
    if (index < 1) throw new DecodeError('entry index must be >= 1');
    entries.push({ index, term, type, data: own.bytesView('entry data') });
  }
  own.expectEnd('frame');
  return entries;
}

function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = r.varint('snapshot index');
  const term = r.varint('snapshot term');
  const lists: string[][] = [];
  for (let l = 0; l < 3; l++) {
    const n = r.varint('member count');
    if (n > r.remaining / 2) throw new DecodeError(`member count ${n} exceeds frame`);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(nodeId(r));
    lists.push(ids);
  }
  const [voters = [], learners = [], removed = []] = lists;
  return { index, term, confState: { voters, learners, removed } };
}
