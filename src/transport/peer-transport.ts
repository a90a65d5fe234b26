// PeerTransport: raft messages and snapshots between cluster members over TCP (node:net).
//
// - One outbound connection per peer (outbound.ts) carries our messages to it; inbound connections
//   (inbound.ts) carry the peers' messages to us. Every connection starts with a handshake: cluster
//   id, sender id, target id and protocol version; any mismatch is refused, logged and closed.
// - send() never blocks: frames are queued per peer (bounded, oldest dropped and counted) and all
//   that is queued in one event-loop turn leaves in a single corked write.
// - sendSnapshot() streams data in chunks with offsets; after a reconnect the transfer resumes where
//   the receiver stands. The receiver takes one transfer at a time, into a spool (on disk in the
//   server), after asking the node whether it wants the offer at all; it hands over (from,
//   SnapshotRequest, data) once all of it arrived and its CRC checks out; the node host then steps
//   the SnapshotRequest into the core.
// Addresses are host:port everywhere; nothing assumes localhost.
import { createServer, type Server } from 'node:net';
import type { Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import { encodeFrame } from './codec.ts';
import { InboundHub, type MessageHandler, type OfferJudge, type RemovalInfo, type SnapshotHandler } from './inbound.ts';
import {
  defaultMaxInbound,
  emptyStats,
  resolveOptions,
  type PeerAddress,
  type PeerStats,
  type PeerTransportOptions,
  type ResolvedOptions,
} from './options.ts';
import { OutboundLink, type SnapshotSource } from './outbound.ts';
import { LimitedLog } from '../util/log-limit.ts';

export type { PeerAddress, PeerStats, PeerTransportOptions, TransportLogger } from './options.ts';
export { TransportConfigError } from './options.ts';
export type { SnapshotSource } from './outbound.ts';
export type { MessageHandler, OfferJudge, OfferVerdict, RemovalInfo, SnapshotHandler } from './inbound.ts';
export type { RemovalNotice } from './removal-notice.ts';
export { memorySpool, type SnapshotSpool, type SpoolDone, type SpoolOpener } from './spool.ts';

export interface TransportStats {
  readonly peers: Readonly<Record<NodeId, PeerStats>>;
  /** Messages addressed to a node that is not a configured peer (dropped). */
  readonly unknownPeerDrops: number;
  /** Inbound connections refused at the handshake. */
  readonly refusedConnections: number;
}

export class PeerTransport {
  private readonly opts: ResolvedOptions;
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly peerStats = new Map<NodeId, PeerStats>();
  private readonly inbound: InboundHub;
  private server: Server | null = null;
  private messageHandler: MessageHandler = () => {};
  private snapshotHandler: SnapshotHandler = () => {};
  private offerJudge: OfferJudge = () => 'accept';
  private removalJudge: (peer: NodeId) => RemovalInfo | null = () => null;
  private unknownPeerDrops = 0;
  /** One line per unknown node and interval: a removed member's requests are answered several times a second. */
  private readonly unknownPeerLog: LimitedLog;
  private refused = 0;
  private boundPort = 0;
  private state: 'new' | 'started' | 'stopped' = 'new';
  /** maxInboundConnections was given: it stays; else it follows the peers (defaultMaxInbound). */
  private readonly inboundCapGiven: boolean;
  private maxInbound: number;

  constructor(options: PeerTransportOptions) {
    this.opts = resolveOptions(options);
    this.inboundCapGiven = options.maxInboundConnections !== undefined;
    this.maxInbound = this.opts.maxInboundConnections;
    for (const [id, addr] of this.opts.peers) {
      if (id === this.opts.selfId) continue;
      const stats = emptyStats();
      this.peerStats.set(id, stats);
      this.links.set(id, new OutboundLink(this.opts, id, addr, stats));
    }
    this.unknownPeerLog = new LimitedLog(this.opts.logger, this.opts.refusalLogIntervalMs);
    this.inbound = new InboundHub(this.opts, {
      statsFor: (peer) => this.peerStats.get(peer),
      onMessage: (msg) => this.messageHandler(msg),
      onSnapshot: (from, msg, data) => this.snapshotHandler(from, msg, data),
      judgeOffer: (from, msg) => this.offerJudge(from, msg),
      onRefused: () => this.refused++,
      maxConnections: () => this.maxInbound,
      members: () => [this.opts.selfId, ...this.links.keys()].sort(),
      removal: (peer) => this.removalJudge(peer),
    });
  }

  /** The port actually listened on (useful with listenPort 0). */
  get port(): number {
    return this.boundPort;
  }

  /** Listens for peers, then starts dialling every peer. Rejects if the address cannot be bound. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('PeerTransport.start called twice');
    this.state = 'started';
    const server = createServer((sock) => this.inbound.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listenPort, this.opts.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.logger.error({ err: e.message }, 'peer listener error'));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : this.opts.listenPort;
    this.opts.logger.info({ host: this.opts.listenHost, port: this.boundPort }, 'peer transport listening');
    for (const link of this.links.values()) link.start();
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler;
  }

  /**
   * Decides each snapshot offer before anything is allocated for it (inbound.ts, OfferVerdict): the
   * node says whether it already holds that state or the offer is from an earlier term. Default: accept.
   */
  onSnapshotOffer(judge: OfferJudge): void {
    this.offerJudge = judge;
  }

  /**
   * Says which non-members were removed for good (the node's committed membership): such a node is
   * refused with a removal notice (removal-notice.ts) instead of as an unknown node. Default: none.
   */
  setRemovalJudge(judge: (peer: NodeId) => RemovalInfo | null): void {
    this.removalJudge = judge;
  }

  /** Queues messages for their peers; never blocks, never throws for network conditions. */
  send(msgs: readonly Message[]): void {
    if (this.state === 'stopped') return;
    for (const msg of msgs) {
      const link = this.links.get(msg.to);
      const stats = this.peerStats.get(msg.to);
      if (link === undefined || stats === undefined) {
        this.unknownPeerDrops++;
        this.unknownPeerLog.warn(msg.to, { to: msg.to, type: msg.type }, 'dropping message to unknown node');
        continue;
      }
      const frame = encodeFrame({ kind: 'msg', msg });
      if (frame.length > this.opts.maxFrameBytes) {
        stats.drops++;
        this.opts.logger.error(
          { to: msg.to, type: msg.type, bytes: frame.length, max: this.opts.maxFrameBytes },
          'dropping message larger than maxFrameBytes',
        );
        continue;
      }
      link.enqueue(frame);
    }
  }

  /**
   * Streams a snapshot to `to` (replacing any transfer in progress to it); resumable across
   * reconnects. A source is released once its transfer ends (or at once, if it cannot start).
   */
  sendSnapshot(to: NodeId, msg: SnapshotRequest, data: Uint8Array | SnapshotSource): void {
    if (msg.to !== to) throw new Error(`sendSnapshot: message is for ${msg.to}, not ${to}`);
    const link = this.state === 'stopped' ? undefined : this.links.get(to);
    if (link === undefined) {
      if (!(data instanceof Uint8Array)) data.release();
      if (this.state === 'stopped') return;
      this.unknownPeerDrops++;
      this.opts.logger.warn({ to }, 'dropping snapshot to unknown node');
      return;
    }
    link.sendSnapshot(msg, data);
  }

  /** Whether a snapshot transfer to `to` is still unacknowledged. */
  snapshotInProgress(to: NodeId): boolean {
    return this.links.get(to)?.snapshotInProgress ?? false;
  }

  /**
   * Makes the peers exactly `peers` (selfId ignored): new ones get a link (dialled at once when
   * started), links to ones no longer listed are closed, changed addresses are redialled. Used as
   * the configuration changes (members added and removed).
   */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    if (this.state === 'stopped') return;
    for (const [id, link] of this.links) {
      if (peers.has(id)) continue;
      link.stop();
      // Its connection to us goes too: a removed member that never learnt of its removal would go on
      // campaigning over it for ever; redialling, it is refused at the handshake, with the reason.
      this.inbound.dropPeer(id);
      this.links.delete(id);
      this.peerStats.delete(id);
      this.opts.logger.info({ peer: id }, `node ${id} is no longer a peer`);
    }
    for (const [id, addr] of peers) {
      if (id === this.opts.selfId) continue;
      const link = this.links.get(id);
      if (link !== undefined) {
        if (link.address.host !== addr.host || link.address.port !== addr.port) link.setAddress(addr);
        continue;
      }
      const stats = emptyStats();
      const fresh = new OutboundLink(this.opts, id, addr, stats);
      this.peerStats.set(id, stats);
      this.links.set(id, fresh);
      this.opts.logger.info({ peer: id, addr: `${addr.host}:${addr.port}` }, `node ${id} is a new peer`);
      if (this.state === 'started') fresh.start();
    }
    // Every peer dials this node (and may redial before its old connection is gone): a cap fixed at
    // the start left a member that grew past it unable to accept its peers (docs/chaos.md, seed 42).
    if (!this.inboundCapGiven) this.maxInbound = defaultMaxInbound(this.links.size);
  }

  /** Changes where a peer is dialled (reconnects at once). */
  setPeerAddress(id: NodeId, addr: PeerAddress): void {
    const link = this.links.get(id);
    if (link === undefined) throw new Error(`setPeerAddress: unknown peer ${id}`);
    link.setAddress(addr);
  }

  stats(): TransportStats {
    const peers: Record<NodeId, PeerStats> = {};
    for (const [id, s] of this.peerStats) peers[id] = { ...s };
    return { peers, unknownPeerDrops: this.unknownPeerDrops, refusedConnections: this.refused };
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const link of this.links.values()) link.stop();
    this.inbound.stop();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
