// PeerTransport configuration (validated once, with every limit explicit), stats and logger shape.
import type { RemovalNotice } from './removal-notice.ts';
import type { NodeId } from '../raft/types.ts';
import { Buffer } from 'node:buffer';
import { FRAME_OVERHEAD_BYTES, MAX_CLUSTER_ID_BYTES, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './codec.ts';
import { memorySpool, type SpoolOpener } from './spool.ts';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** A pino-compatible subset: (fields, message). */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How long after its first dial a never-reached peer's refusals are logged as info, not warnings. */
export const NOT_YET_LISTENING_GRACE_MS = 10_000;

export const silentLogger: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Who this member is (docs/storage.md "Cluster identity"), checked in every handshake. Without it
 * (tests of the transport alone) only the cluster token is compared.
 */
export interface PeerIdentity {
  readonly clusterUid: string;
  readonly incarnation: string;
  /** Checks a connecting member; a returned reason refuses it with code 'identity'. */
  verify(from: NodeId, clusterUid: string, incarnation: string): string | null;
  /** A peer refused us for our identity (wrong cluster, not a member, other incarnation). */
  onRefused(peer: NodeId, reason: string): void;
  /** A peer refused us because its committed membership lists an id as removed (removal-notice.ts). */
  onRemoved?(peer: NodeId, notice: RemovalNotice, reason: string): void;
}

export const NO_IDENTITY: PeerIdentity = { clusterUid: '', incarnation: '', verify: () => null, onRefused() {} };

/** A certificate chain, its key and the CA certificates to trust, PEM-encoded. */
export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/**
 * Mutual TLS on peer links (issue 15): each end presents a certificate and accepts only one signed by
 * the cluster's peer CA. Not a hostname check: any certificate of that CA is a member credential, so
 * the peer CA must be the cluster's own (docs/security.md).
 */
export interface PeerTls {
  /**
   * The material in force, read for each new connection: a reload returns a new object, and new
   * handshakes use it (connections already open keep theirs).
   */
  current(): TlsMaterial;
}

export interface PeerTransportOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
  readonly listenHost: string;
  /** 0 = an ephemeral port (see PeerTransport.port). */
  readonly listenPort: number;
  /** The address each other member is dialled at; an entry for selfId is ignored. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly maxFrameBytes: number;
  /** Raft messages queued for one peer beyond this are dropped, oldest first (raft retries). */
  readonly maxQueuedBytesPerPeer: number;
  /** Messages queued longer than this (peer unreachable) are dropped instead of sent late. */
  readonly maxQueuedMessageAgeMs?: number;
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
  readonly connectTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Snapshot data is sent in chunks of this size... */
  readonly snapshotChunkBytes?: number;
  /** ...with at most this many unacknowledged chunks in flight. */
  readonly snapshotWindowChunks?: number;
  /**
   * Inbound connections open at once, handshaken or not; more are reset on arrival. Default 2 per
   * member + 4, following the members as setPeers changes them.
   */
  readonly maxInboundConnections?: number;
  /** Incoming snapshots larger than this are rejected before anything is stored. */
  readonly maxSnapshotBytes?: number;
  /**
   * Where an incoming snapshot's bytes wait until all arrived (spool.ts); one transfer at a time.
   * Default: in memory (a buffer of the snapshot's size from its first byte); the server spools to disk.
   */
  readonly snapshotSpool?: SpoolOpener;
  readonly logger?: TransportLogger;
  /** Jitter source for reconnect backoff; injectable for tests. */
  readonly random?: () => number;
  readonly identity?: PeerIdentity;
  /** null or absent: plaintext peer links (serve --insecure). */
  readonly tls?: PeerTls | null;
  /** A refusal (either side) or TLS failure with the same cause is logged at most once per this (default 60 s). */
  readonly refusalLogIntervalMs?: number;
  /** The software version told to peers in the handshake (the server's package version; '' unknown). */
  readonly softwareVersion?: string;
  /**
   * The peer protocol versions spoken (default MIN_PROTOCOL_VERSION..PROTOCOL_VERSION). Tests set
   * another range to play a build of another version (version.ts; docs/operations.md).
   */
  readonly protocolVersions?: { readonly min: number; readonly max: number };
}

export type ResolvedOptions = Required<PeerTransportOptions>;

/** A configuration value is out of range; thrown by the constructor. */
export class TransportConfigError extends Error {
  override readonly name = 'TransportConfigError';
}

const MIB = 1024 * 1024;

/** The default inbound cap for a node with `peers` peers: 2 per member (itself included) + 4. */
export function defaultMaxInbound(peers: number): number {
  return 2 * (peers + 1) + 4;
}

export function resolveOptions(o: PeerTransportOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    maxQueuedMessageAgeMs: 2000,
    connectTimeoutMs: 3000,
    handshakeTimeoutMs: 3000,
    // Default: 1 MiB, or less when frames are smaller.
    snapshotChunkBytes: Math.min(MIB, Math.floor(o.maxFrameBytes / 2)),
    // Few chunks in flight: heartbeats queue behind them, so keep the head-of-line delay small.
    snapshotWindowChunks: 2,
    maxSnapshotBytes: 2048 * MIB,
    maxInboundConnections: defaultMaxInbound([...o.peers.keys()].filter((id) => id !== o.selfId).length),
    logger: silentLogger,
    random: Math.random,
    identity: NO_IDENTITY,
    tls: null,
    refusalLogIntervalMs: 60_000,
    snapshotSpool: memorySpool,
    softwareVersion: '',
    protocolVersions: { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
    ...o,
  };
  const int = (name: keyof ResolvedOptions, min: number, max: number): void => {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new TransportConfigError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  if (r.selfId.length === 0 || r.clusterId.length === 0)
    throw new TransportConfigError('selfId and clusterId must be non-empty');
  if (Buffer.byteLength(r.clusterId) > MAX_CLUSTER_ID_BYTES)
    throw new TransportConfigError(`clusterId must be at most ${MAX_CLUSTER_ID_BYTES} bytes`);
  int('listenPort', 0, 65535);
  int('maxFrameBytes', 4096, 1024 * MIB);
  int('maxQueuedBytesPerPeer', 4096, 4096 * MIB);
  int('reconnectBackoffMinMs', 1, 600_000);
  int('reconnectBackoffMaxMs', r.reconnectBackoffMinMs, 600_000);
  int('connectTimeoutMs', 1, 600_000);
  int('maxQueuedMessageAgeMs', 1, 600_000);
  int('handshakeTimeoutMs', 1, 600_000);
  int('snapshotChunkBytes', 1, r.maxFrameBytes - FRAME_OVERHEAD_BYTES - 1024);
  int('snapshotWindowChunks', 1, 1024);
  int('maxSnapshotBytes', 1, 4096 * MIB);
  int('maxInboundConnections', 1, 100_000);
  int('refusalLogIntervalMs', 0, 3_600_000);
  const pv = r.protocolVersions;
  if (!Number.isSafeInteger(pv.min) || !Number.isSafeInteger(pv.max) || pv.min < 2 || pv.min > pv.max || pv.max > 255)
    throw new TransportConfigError(`protocolVersions must be 2 <= min <= max <= 255, got ${pv.min}..${pv.max}`);
  if (Buffer.byteLength(r.softwareVersion) > 64)
    throw new TransportConfigError('softwareVersion must be at most 64 bytes');
  for (const [id, a] of r.peers) {
    if (id.length === 0) throw new TransportConfigError('peer id must be non-empty');
    if (a.host.length === 0 || !Number.isSafeInteger(a.port) || a.port < 1 || a.port > 65535) {
      throw new TransportConfigError(`peer ${id}: bad address ${a.host}:${a.port}`);
    }
  }
  return r;
}

/** Counters per peer, for metrics. Monotonic except queuedBytes and connected. */
export interface PeerStats {
  msgsSent: number;
  bytesSent: number;
  msgsReceived: number;
  bytesReceived: number;
  /** Messages dropped: queue over its bound, queued too long, or too large for a frame. */
  drops: number;
  /** Connection failures, decode errors, refused handshakes, invalid messages. */
  errors: number;
  connects: number;
  /** Socket writes; each carries every frame queued in one event-loop turn. */
  writeBatches: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  snapshotBytesSent: number;
  snapshotBytesReceived: number;
  /** Snapshot offers answered without their data: already held, an earlier term, another transfer under way. */
  snapshotOffersDeclined: number;
  queuedBytes: number;
  connected: boolean;
  /** The peer protocol version of the last handshake with this peer, either way (0: none yet). */
  protocolVersion: number;
  /** The software version the peer gave in it ('' before version 3: an older leasekv, or none yet). */
  software: string;
}

export function emptyStats(): PeerStats {
  return {
    msgsSent: 0,
    bytesSent: 0,
    msgsReceived: 0,
    bytesReceived: 0,
    drops: 0,
    errors: 0,
    connects: 0,
    writeBatches: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    snapshotBytesSent: 0,
    snapshotBytesReceived: 0,
    snapshotOffersDeclined: 0,
    queuedBytes: 0,
    connected: false,
    protocolVersion: 0,
    software: '',
  };
}
