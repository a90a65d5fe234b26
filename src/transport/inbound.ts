// Inbound connections: the handshake check (cluster id, protocol version, known sender, right
// target), delivery of raft messages; snapshot frames go to the receiving half (inbound-snapshot.ts).
//
// At most one inbound connection per peer is live: a new handshake from the same peer replaces the
// old connection, so chunks of one transfer never arrive from two sockets at once. One snapshot
// transfer is received at a time, into a spool (spool.ts: on disk in the server) rather than a buffer
// of the snapshot's size; its partial data is kept across reconnects (that is what makes a transfer
// resumable).
import type { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Message, NodeId } from '../raft/types.ts';
import { DecodeError, encodeFrame, MAX_HELLO_FRAME_BYTES, type Frame } from './codec.ts';
import { FrameDecoder } from './frame-decoder.ts';
import type { PeerStats, ResolvedOptions, TlsMaterial } from './options.ts';
import { peerCertProblem, TLS_HANDSHAKE_BYTE } from './tls-check.ts';
import { SnapshotReceiver, type OfferJudge, type SnapshotHandler } from './inbound-snapshot.ts';
import { LimitedLog } from '../util/log-limit.ts';
import { HTTP_ON_PEER_PORT, HTTP_ON_PEER_PORT_ANSWER, isHttpRequest } from './foreign.ts';
import { chooseVersion, versionRefusal } from './version.ts';
import { encodeRemovedCode } from './removal-notice.ts';

export type MessageHandler = (msg: Message) => void;
export type { OfferJudge, OfferVerdict, SnapshotHandler } from './inbound-snapshot.ts';

export interface InboundCallbacks {
  statsFor(peer: NodeId): PeerStats | undefined;
  onMessage: MessageHandler;
  onSnapshot: SnapshotHandler;
  judgeOffer: OfferJudge;
  /** Handshakes refused (wrong cluster, unknown sender, wrong target, bad protocol). */
  onRefused(): void;
  /** Inbound connections open at once, handshaken or not; more are reset on arrival. */
  maxConnections(): number;
  /** The members connections are accepted from (for refusal messages). */
  members(): readonly NodeId[];
  /** Whether this node's committed membership lists `peer` as removed, and since which index. */
  removal(peer: NodeId): RemovalInfo | null;
}

/** What the node knows of a removed id (PeerTransport.setRemovalJudge). */
export interface RemovalInfo {
  /** The committed configuration at this index (or an earlier one) lists the id as removed. */
  readonly index: number;
  /** This node leads now. */
  readonly byLeader: boolean;
}

export class InboundHub {
  /** Every inbound connection: its raw socket → the socket frames are read from (raw or TLS over it). */
  private readonly sockets = new Map<Socket, Socket>();
  private readonly activeByPeer = new Map<NodeId, Socket>();
  private readonly snapshots: SnapshotReceiver;
  private readonly limited: LimitedLog;
  /** TLS connections between the ClientHello and the end of the handshake, by remote address. */
  private readonly handshaking = new Map<string, { raw: Socket; timer: NodeJS.Timeout }>();
  private tls: TlsServer | null = null;
  private tlsMaterial: TlsMaterial | null = null;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly cb: InboundCallbacks,
  ) {
    this.limited = new LimitedLog(opts.logger, opts.refusalLogIntervalMs);
    this.snapshots = new SnapshotReceiver(opts, {
      statsFor: (peer) => cb.statsFor(peer),
      onMessage: (msg) => cb.onMessage(msg),
      onSnapshot: (from, msg, data) => cb.onSnapshot(from, msg, data),
      judgeOffer: (from, msg) => cb.judgeOffer(from, msg),
      bump: (peer) => this.bump(peer),
    });
  }

  accept(raw: Socket): void {
    if (this.sockets.size >= this.cb.maxConnections()) {
      // Over the cap (members × 2 + slack): reset at once, before any byte is read or buffered.
      this.cb.onRefused();
      raw.on('error', () => undefined);
      raw.resetAndDestroy();
      return;
    }
    this.sockets.set(raw, raw);
    raw.setNoDelay(true);
    const remote = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
    // Covers the TLS handshake too: a silent or slow stranger holds a slot at most this long.
    const timer = setTimeout(() => {
      const sock = this.sockets.get(raw) ?? raw;
      if (sock === raw) return void this.refuse(raw, remote, 'no handshake in time');
      this.failedTls(remote, 'no handshake in time');
      sock.destroy();
    }, this.opts.handshakeTimeoutMs);
    raw.on('error', () => raw.destroy());
    raw.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(raw);
      this.handshaking.delete(remote);
    });
    const tls = this.tlsServer();
    if (tls === null) return this.attach(raw, remote, timer);
    // The first byte tells a TLS ClientHello from a plaintext hello (whose 4-byte length starts with 0).
    const onReadable = (): void => {
      const first = raw.read() as Buffer | null;
      if (first === null) return;
      raw.off('readable', onReadable);
      raw.unshift(first); // the TLS socket takes the bytes already read as received (node:tls)
      if (isHttpRequest(first))
        return void this.refuse(raw, remote, HTTP_ON_PEER_PORT, 'http', HTTP_ON_PEER_PORT_ANSWER);
      if (first[0] !== TLS_HANDSHAKE_BYTE) {
        this.refuse(
          raw,
          remote,
          'a plaintext peer connection: this peer port requires TLS (give every member --peer-tls-cert, --peer-tls-key and --peer-tls-ca)',
          'tls',
        );
        return;
      }
      this.handshaking.set(remote, { raw, timer });
      tls.emit('connection', raw);
    };
    raw.on('readable', onReadable);
  }

  /**
   * The TLS server the peer port's connections are handed to (it never listens itself): node:tls
   * verifies the client certificate against the CA and the dates and says so in `authorized`. Its
   * context follows the material in force (setSecureContext after a reload). null: plaintext.
   */
  private tlsServer(): TlsServer | null {
    const tls = this.opts.tls;
    if (tls === null) return null;
    const m = tls.current();
    if (this.tls !== null && m === this.tlsMaterial) return this.tls;
    this.tlsMaterial = m;
    const material = { cert: m.cert, key: m.key, ca: m.ca };
    if (this.tls !== null) {
      this.tls.setSecureContext(material);
      return this.tls;
    }
    const server = createTlsServer({
      ...material,
      requestCert: true,
      // Checked on 'secureConnection', so that the refusal can say why over the encrypted connection.
      rejectUnauthorized: false,
      handshakeTimeout: this.opts.handshakeTimeoutMs,
    });
    server.on('secureConnection', (sock: TLSSocket) => {
      const remote = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
      const h = this.handshaking.get(remote);
      this.handshaking.delete(remote);
      if (h === undefined || sock.destroyed) return void sock.destroy();
      this.sockets.set(h.raw, sock);
      sock.on('close', () => h.raw.destroy());
      const problem = peerCertProblem(sock);
      if (problem !== null) return void this.refuse(sock, remote, `TLS: ${problem}`, 'tls');
      this.attach(sock, remote, h.timer);
    });
    server.on('tlsClientError', (e: Error & { reason?: string }, sock: TLSSocket) => {
      // The socket no longer knows its address here; the cause alone keys the log line.
      this.failedTls('?:?', e.reason ?? e.message);
      sock.destroy();
    });
    this.tls = server;
    return server;
  }

  /** Reads frames from a connection (TLS established if configured): the hello first, then the peer's frames. */
  private attach(sock: Socket, remote: string, handshakeTimer: NodeJS.Timeout): void {
    let peer: NodeId | null = null;
    let first = true;
    // Until the hello is accepted, only a hello-sized frame is buffered (codec.ts).
    const decoder = new FrameDecoder(Math.min(MAX_HELLO_FRAME_BYTES, this.opts.maxFrameBytes));
    sock.on('data', (chunk: Buffer) => {
      if (first && this.opts.tls === null && chunk[0] === TLS_HANDSHAKE_BYTE) {
        // A TLS ClientHello to a plaintext port: the dialer cannot read a plaintext refusal, but the log can say it.
        this.refuse(
          sock,
          remote,
          'a TLS connection: this peer port is plaintext (--insecure); give every member the same --peer-tls-* flags',
          'tls',
        );
        return;
      }
      if (first && isHttpRequest(chunk)) {
        this.refuse(sock, remote, HTTP_ON_PEER_PORT, 'http', HTTP_ON_PEER_PORT_ANSWER);
        return;
      }
      first = false;
      try {
        decoder.push(chunk, (f, size) => {
          if (sock.destroyed || sock.writableEnded) return; // closing or refused: ignore the rest
          if (peer === null) {
            clearTimeout(handshakeTimer);
            peer = this.handshake(sock, remote, f);
            if (peer !== null) decoder.setMaxFrameBytes(this.opts.maxFrameBytes);
            return;
          }
          const stats = this.cb.statsFor(peer);
          if (stats !== undefined) stats.bytesReceived += size;
          this.onFrame(sock, peer, f);
        });
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e; // a bug in a handler: crash loudly
        if (peer === null) {
          this.refuse(sock, remote, e.message);
          return;
        }
        this.bump(peer);
        this.opts.logger.warn({ peer, remote, reason: e.message }, `bad frame from node ${peer}; closing`);
        sock.destroy();
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      if (peer !== null && this.activeByPeer.get(peer) === sock) this.activeByPeer.delete(peer);
    });
  }

  /** A TLS handshake that failed before any certificate check (a plaintext or broken client, an alert). */
  private failedTls(remote: string, reason: string): void {
    this.cb.onRefused();
    const host = remote.slice(0, remote.lastIndexOf(':'));
    this.limited.warn(`${host} tls ${reason}`, { remote, reason }, 'peer TLS handshake failed');
  }

  /** Closes the connection a peer that is no longer a member dialled to this node. */
  dropPeer(peer: NodeId): void {
    this.activeByPeer.get(peer)?.destroy();
    this.activeByPeer.delete(peer);
  }

  stop(): void {
    for (const s of this.sockets.values()) s.destroy();
    this.sockets.clear();
    this.handshaking.clear();
    this.activeByPeer.clear();
    this.snapshots.stop();
  }

  /** Checks the first frame; returns the peer id, or null after refusing. */
  private handshake(sock: Socket, remote: string, f: Frame): NodeId | null {
    if (f.kind !== 'hello') return this.refuse(sock, remote, `expected hello, got ${f.kind}`);
    const mine = this.opts.protocolVersions;
    const version = chooseVersion(mine, f);
    if (version === null)
      return this.refuse(sock, remote, versionRefusal(mine, this.opts.softwareVersion, f), 'version');
    if (f.clusterId !== this.opts.clusterId) {
      // Neither token is echoed: the refusal goes to whoever connected. Code 'identity' makes a member
      // that has never seen an entry committed (a wrong --cluster-token on bootstrap or --join) stop
      // with this reason instead of retrying for ever.
      return this.refuse(
        sock,
        remote,
        `cluster token mismatch: node ${f.from} presented a --cluster-token other than this cluster's`,
        'identity',
      );
    }
    if (f.to !== this.opts.selfId)
      return this.refuse(sock, remote, `dialled node ${f.to} but this is ${this.opts.selfId}`);
    const identity = this.opts.identity;
    if (f.clusterUid !== identity.clusterUid) {
      return this.refuse(
        sock,
        remote,
        `cluster id mismatch: node ${f.from} belongs to cluster ${f.clusterUid || '(none)'}, this is cluster ${identity.clusterUid || '(none)'}`,
        'identity',
      );
    }
    if (f.from === this.opts.selfId || this.cb.statsFor(f.from) === undefined) {
      // Removed for good (committed here): the sender is told so, with what it needs to believe it
      // (removal-notice.ts); it stops once it has heard it from the leader or from two members.
      const removed = f.from === this.opts.selfId ? null : this.cb.removal(f.from);
      if (removed !== null) {
        const notice = { clusterUid: identity.clusterUid, member: f.from, ...removed };
        return this.refuse(
          sock,
          remote,
          `node ${f.from} was removed from this cluster (the configuration committed at index ${removed.index} lists it as removed); its id can never rejoin`,
          encodeRemovedCode(notice),
        );
      }
      // Not fatal for the sender: a member just added may dial this node before this node has the
      // entry that adds it.
      return this.refuse(
        sock,
        remote,
        `node ${f.from} is not a member of this cluster as this node knows it (${this.cb.members().join(', ')})`,
        'unknown-member',
      );
    }
    const why = identity.verify(f.from, f.clusterUid, f.incarnation);
    if (why !== null) return this.refuse(sock, remote, why, 'identity');
    const previous = this.activeByPeer.get(f.from);
    if (previous !== undefined && previous !== sock) previous.destroy();
    this.activeByPeer.set(f.from, sock);
    const stats = this.cb.statsFor(f.from);
    if (stats !== undefined) [stats.protocolVersion, stats.software] = [version, f.software];
    // A version-2 hello-ok carries nothing: a protocol-2 dialer refuses any other.
    const range = version >= 3 ? mine : { min: 2, max: 2 };
    const software = version >= 3 ? this.opts.softwareVersion : '';
    sock.write(encodeFrame({ kind: 'hello-ok', version, minVersion: range.min, maxVersion: range.max, software }));
    this.opts.logger.debug({ peer: f.from, remote }, `accepted connection from node ${f.from}`);
    return f.from;
  }

  /** `answer`: what to send instead of a refusal frame (an HTTP client reads an HTTP answer). */
  private refuse(sock: Socket, remote: string, reason: string, code = '', answer?: Uint8Array): null {
    if (sock.destroyed) return null;
    this.cb.onRefused();
    // One line per source and cause per interval: a refused member redials several times a second.
    const host = remote.slice(0, remote.lastIndexOf(':'));
    this.limited.warn(`${host} ${reason}`, { remote, reason }, 'refused peer connection');
    sock.end(answer ?? encodeFrame({ kind: 'refuse', reason, code }));
    // Read (and drop) whatever else it sends, so that its close is seen and its slot freed at once.
    sock.resume();
    // end() waits for the peer; do not let a silent peer keep the socket.
    setTimeout(() => sock.destroy(), 1000).unref();
    return null;
  }

  private bump(peer: NodeId): void {
    const s = this.cb.statsFor(peer);
    if (s !== undefined) s.errors++;
  }

  private onFrame(sock: Socket, peer: NodeId, f: Frame): void {
    switch (f.kind) {
      case 'msg':
        if (f.msg.from !== peer || f.msg.to !== this.opts.selfId) {
          // A message must come from the node that completed the handshake and be meant for us.
          this.bump(peer);
          this.opts.logger.warn({ peer, from: f.msg.from, to: f.msg.to }, 'dropping misaddressed message');
          return;
        }
        {
          const s = this.cb.statsFor(peer);
          if (s !== undefined) s.msgsReceived++;
        }
        this.cb.onMessage(f.msg);
        return;
      case 'snap-offer':
        return this.snapshots.onOffer(sock, peer, f.id, f.msg);
      case 'snap-chunk':
        return this.snapshots.onChunk(sock, peer, f.id, f.offset, f.data);
      default:
        this.bump(peer);
        this.opts.logger.warn({ peer, kind: f.kind }, 'unexpected frame on an inbound connection; closing');
        sock.destroy();
    }
  }
}
