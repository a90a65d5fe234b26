// Peer protocol version negotiation (codec.ts, version 3; docs/operations.md, "Upgrading").
//
// Each build speaks a range of versions. The dialer's hello offers its range; the acceptor picks the
// newest both speak and says so in hello-ok, or refuses (code 'version') when the ranges do not meet.
// Builds of protocol 2 know nothing of this: they refuse any hello whose version byte is not 2 with
// 'unsupported protocol version N (mine is 2)' — the dialer then offers a version-2 hello on its next
// dial, and the connection speaks 2. A rolling upgrade therefore works between adjacent builds in
// either direction as long as their ranges overlap.
import type { Frame } from './codec.ts';

export interface ProtocolRange {
  readonly min: number;
  readonly max: number;
}

/** What a protocol-2 build answers to a hello of another version (its codec's message, frozen). */
const LEGACY_REFUSAL = /^unsupported protocol version \d+ \(mine is (\d+)\)$/;

/** The version a refusing peer speaks if it is a protocol-2 build's version refusal, else null. */
export function legacyPeerVersion(reason: string): number | null {
  const m = LEGACY_REFUSAL.exec(reason);
  return m === null ? null : Number(m[1]);
}

/** The version to offer next after a refusal: a protocol-2 build's, when we speak it; else null. */
export function fallbackVersion(reason: string, offered: number, min: number): number | null {
  const v = legacyPeerVersion(reason);
  return v !== null && v < offered && v >= min ? v : null;
}

/** What a link offers in its next hello; fellBack: a protocol-2 peer has just said it speaks only 2. */
export interface HelloPlan {
  readonly version: number;
  readonly fellBack: boolean;
}

/**
 * The plan once a connection has ended: the fallback for the very next dial only, else the newest
 * version again — the peer may come back as another build (a rolling upgrade), and a fallback whose
 * dial failed (the peer restarting) must not stick to a peer that now speaks more.
 */
export function nextHello(h: HelloPlan, max: number): HelloPlan {
  return { version: h.fellBack ? h.version : max, fellBack: false };
}

/** The version to speak with a dialer, or null when the ranges do not meet. */
export function chooseVersion(mine: ProtocolRange, hello: Extract<Frame, { kind: 'hello' }>): number | null {
  const v = Math.min(mine.max, hello.version);
  return v >= Math.max(mine.min, hello.minVersion) ? v : null;
}

/** Names a build in a message: its software version, or what a hello without one says about it. */
export function buildName(software: string, version: number): string {
  return software !== '' ? `leasekv ${software}` : version <= 2 ? 'a leasekv of peer protocol 2 (0.1.x)' : 'leasekv';
}

/** The refusal of a dialer whose range does not meet ours: what to upgrade, in the operator's terms. */
export function versionRefusal(
  mine: ProtocolRange,
  mySoftware: string,
  hello: Extract<Frame, { kind: 'hello' }>,
): string {
  const theirs = `node ${hello.from} (${buildName(hello.software, hello.version)}) speaks peer protocol ${hello.minVersion} to ${hello.version}`;
  const ours = `this node (${buildName(mySoftware, mine.max)}) speaks ${mine.min} to ${mine.max}`;
  const older = hello.version < mine.min ? hello.from : 'this node';
  return `peer protocol mismatch: ${theirs}, ${ours}; upgrade ${older} first, one release at a time (docs/operations.md, "Upgrading")`;
}

/** The hello a link sends: at `version`, with this build's oldest version and software version. */
export function helloFrame(
  opts: {
    readonly clusterId: string;
    readonly selfId: string;
    readonly identity: { readonly clusterUid: string; readonly incarnation: string };
    readonly softwareVersion: string;
    readonly protocolVersions: ProtocolRange;
  },
  to: string,
  version: number,
): Frame {
  const { clusterUid, incarnation } = opts.identity;
  const legacy = version <= 2;
  return {
    kind: 'hello',
    version,
    minVersion: legacy ? version : opts.protocolVersions.min,
    software: legacy ? '' : opts.softwareVersion,
    clusterId: opts.clusterId,
    from: opts.selfId,
    to,
    clusterUid,
    incarnation,
  };
}

/**
 * The cluster's protocol version as this node knows it (etcd's "cluster version"): the newest every
 * member is known to speak — the lowest version of this node's last handshake with each peer, and
 * the oldest this build speaks while a peer has not been reached. A change to what members exchange
 * (a message, log entry or snapshot format) may be used only once this reaches the version that
 * brought it; none does yet (docs/operations.md, "Upgrading").
 */
export function clusterProtocolVersion(
  mine: ProtocolRange,
  peers: Iterable<{ readonly protocolVersion: number }>,
): number {
  let v = mine.max;
  for (const p of peers) v = Math.min(v, p.protocolVersion === 0 ? mine.min : p.protocolVersion);
  return v;
}
