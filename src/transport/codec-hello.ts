// The handshake frames' payloads and the peer protocol versions (codec.ts frames them; version.ts
// negotiates; docs/operations.md, "Upgrading").
//
// 2: hello carries the cluster id and the sender's incarnation; refuse carries a code.
// 3: hello and hello-ok negotiate the version: the hello's version byte is the dialer's newest, and
//    it carries its oldest and its software version; hello-ok's byte is the version chosen for the
//    connection, with the acceptor's range and software version. Every other frame keeps version 2's
//    layout and byte (FRAME_LAYOUT_VERSION), which builds of protocol 2 read. Builds of protocol 2
//    refuse any other byte, so a dialer falls back to a version-2 hello when a peer answers
//    'unsupported protocol version 3 (mine is 2)' (version.ts).
// From 3 on a version may only append fields to hello and hello-ok: a build reads a newer hello's
// version-3 fields and answers with the newest version both speak.
import type { ByteReader, ByteWriter } from '../util/bytes.ts';

/** The newest peer protocol this build speaks. */
export const PROTOCOL_VERSION = 3;
/** The oldest it still speaks: a rolling upgrade moves one release at a time. */
export const MIN_PROTOCOL_VERSION = 2;
/** The version byte of every frame but hello and hello-ok (their layout has not changed since 2). */
export const FRAME_LAYOUT_VERSION = 2;

/**
 * clusterId is the cluster token; clusterUid and incarnation the identity ('' when not used).
 * version: the dialer's newest protocol (the frame's byte); minVersion and software exist from
 * version 3 on (2 and '' in a version-2 hello).
 */
export interface HelloFrame {
  readonly kind: 'hello';
  readonly version: number;
  readonly minVersion: number;
  readonly software: string;
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
  readonly clusterUid: string;
  readonly incarnation: string;
}

/** version: the one chosen for the connection (2: a version-2 hello-ok, which carries nothing). */
export interface HelloOkFrame {
  readonly kind: 'hello-ok';
  readonly version: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly software: string;
}

export function writeHello(w: ByteWriter, f: HelloFrame): void {
  w.str(f.clusterId);
  w.str(f.from);
  w.str(f.to);
  w.str(f.clusterUid);
  w.str(f.incarnation);
  if (f.version < 3) return;
  w.u8(f.minVersion);
  w.str(f.software);
}

export function writeHelloOk(w: ByteWriter, f: HelloOkFrame): void {
  if (f.version < 3) return;
  w.u8(f.minVersion);
  w.u8(f.maxVersion);
  w.str(f.software);
}

/** A hello of `version` (any from 2 on: a newer one's added fields are left unread). */
export function readHello(r: ByteReader, version: number, nodeId: (r: ByteReader) => string): HelloFrame {
  const clusterId = r.str('clusterId');
  const from = nodeId(r);
  const to = nodeId(r);
  const clusterUid = r.str('clusterUid');
  const incarnation = r.str('incarnation');
  const minVersion = version >= 3 ? r.u8('minVersion') : version;
  const software = version >= 3 ? r.str('software') : '';
  return { kind: 'hello', version, minVersion, software, clusterId, from, to, clusterUid, incarnation };
}

export function readHelloOk(r: ByteReader, version: number): HelloOkFrame {
  if (version < 3) return { kind: 'hello-ok', version, minVersion: version, maxVersion: version, software: '' };
  const minVersion = r.u8('minVersion');
  const maxVersion = r.u8('maxVersion');
  return { kind: 'hello-ok', version, minVersion, maxVersion, software: r.str('software') };
}
