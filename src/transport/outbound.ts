// One outbound connection to one peer: dial, handshake, batched writes, bounded queue, reconnect with
// exponential backoff + jitter, and the sending half of snapshot transfers.
//
// Messages flow only on the sender's outbound connection; the peer answers on the same socket with
// hello-ok / refuse and snapshot acks only. The queue survives short disconnections (raft tolerates late or
// lost messages; the bound keeps memory fixed), snapshot frames are flow-controlled by acks instead.
import { Socket, createConnection } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { NodeId, SnapshotRequest } from '../raft/types.ts';

export { sameTransfer, type SnapshotSource } from './outbound-snapshot.ts';
import { encodeFrame, type Frame, type TransferId } from './codec.ts';
import {
  bufferSource,
  pumpChunks,
  sameTransfer,
  type OutgoingSnapshot,
  type SnapshotSource,
} from './outbound-snapshot.ts';
import { FrameDecoder } from './frame-decoder.ts';
import { noteRefusal } from './removal-notice.ts';
import { NOT_YET_LISTENING_GRACE_MS, type PeerAddress, type PeerStats, type ResolvedOptions } from './options.ts';
import type { TlsMaterial } from './options.ts';
import { badFrameReason } from './foreign.ts';
import { peerCertProblem, tlsHint } from './tls-check.ts';
import { LimitedLog } from '../util/log-limit.ts';
import { buildName, fallbackVersion, helloFrame, nextHello, type HelloPlan } from './version.ts';

type LinkState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'stopped';

export class OutboundLink {
  private state: LinkState = 'idle';
  private socket: Socket | null = null;
  /** Raft message frames; queue[head..] are pending. Invariant: queuedBytes = their total size. */
  private queue: Uint8Array[] = [];
  /** queuedAtMs[i]: when queue[i] was queued (monotonic), to drop stale messages at flush. */
  private queuedAtMs: number[] = [];
  private head = 0;
  /** Snapshot frames: never dropped, bounded by the snapshot window. Cleared on disconnect. */
  private ctl: Uint8Array[] = [];
  private flushScheduled = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private snap: OutgoingSnapshot | null = null;
  /** Whether the current run of failures was already logged at warn level (avoid log floods). */
  private failureLogged = false;
  /** When this link first dialled (performance.now()); null before the first dial. */
  private firstDialAtMs: number | null = null;
  private notListeningLogged = false;
  private failedSocket: Socket | null = null;
  /** Refusals by the peer, by reason: logged once per refusalLogIntervalMs. */
  private readonly refusals: LimitedLog;
  private tlsContext: { material: TlsMaterial; context: SecureContext } | null = null;
  /** The version offered in the next hello: the newest, or what a protocol-2 peer just said it speaks (version.ts). */
  private hello: HelloPlan;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly peerId: NodeId,
    private addr: PeerAddress,
    private readonly stats: PeerStats,
  ) {
    this.refusals = new LimitedLog(opts.logger, opts.refusalLogIntervalMs);
    this.hello = { version: opts.protocolVersions.max, fellBack: false };
  }

  start(): void {
    if (this.state === 'idle') this.connect();
  }

  /** Redirects the link (e.g. the peer moved, or a proxy was put in front of it): reconnects now. */
  get address(): PeerAddress {
    return this.addr;
  }

  setAddress(addr: PeerAddress): void {
    this.addr = addr;
    if (this.state === 'stopped') return;
    this.attempts = 0;
    this.clearTimer();
    const old = this.socket;
    if (old !== null) {
      // Detach first: nothing more may be written to the old socket, and its close handler must
      // not schedule a second reconnect.
      this.socket = null;
      this.stats.connected = false;
      this.ctl = [];
      if (this.snap !== null) this.snap.awaitingOfferAck = true;
      old.destroy();
    }
    this.connect();
  }

  /** Queues one encoded message frame; drops the oldest beyond maxQueuedBytesPerPeer. */
  enqueue(frame: Uint8Array): void {
    if (this.state === 'stopped') return;
    this.queue.push(frame);
    this.queuedAtMs.push(performance.now());
    this.stats.queuedBytes += frame.length;
    while (this.stats.queuedBytes > this.opts.maxQueuedBytesPerPeer && this.head < this.queue.length - 1) {
      const dropped = this.queue[this.head] as Uint8Array;
      this.queue[this.head++] = EMPTY;
      this.stats.queuedBytes -= dropped.length;
      this.stats.drops++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      // Compact, so a long disconnection cannot grow the array with dropped slots.
      this.queue = this.queue.slice(this.head);
      this.queuedAtMs = this.queuedAtMs.slice(this.head);
      this.head = 0;
    }
    this.scheduleFlush();
  }

  /** Starts (or replaces) the snapshot transfer to this peer. */
  sendSnapshot(msg: SnapshotRequest, data: Uint8Array | SnapshotSource): void {
    const source = data instanceof Uint8Array ? bufferSource(data) : data;
    const id: TransferId = {
      index: msg.snapshot.index,
      term: msg.snapshot.term,
      totalBytes: source.totalBytes,
      crc32: source.crc32,
    };
    this.endSnapshot();
    this.snap = { id, msg, source, acked: 0, sent: 0, awaitingOfferAck: true, reading: false, ahead: null };
    this.ctl = [];
    this.opts.logger.info({ peer: this.peerId, index: id.index, bytes: id.totalBytes }, 'sending snapshot');
    if (this.state === 'ready') this.offerSnapshot();
  }

  get snapshotInProgress(): boolean {
    return this.snap !== null;
  }

  stop(): void {
    this.state = 'stopped';
    this.clearTimer();
    this.socket?.destroy();
    this.socket = null;
    this.queue = [];
    this.queuedAtMs = [];
    this.head = 0;
    this.ctl = [];
    this.endSnapshot();
    this.stats.queuedBytes = 0;
    this.stats.connected = false;
  }

  // ------------------------------------------------------------------ connection lifecycle

  private connect(): void {
    this.state = 'connecting';
    this.firstDialAtMs ??= performance.now();
    const tls = this.opts.tls;
    const sock: Socket =
      tls === null
        ? createConnection({ host: this.addr.host, port: this.addr.port })
        : tlsConnect({
            host: this.addr.host,
            port: this.addr.port,
            secureContext: this.secureContext(tls.current()),
            // Verified below against the peer CA, and no hostname check: peers are dialled at any
            // address (proxies, NAT), and the peer CA vouches for members (options.ts, PeerTls).
            rejectUnauthorized: false,
            checkServerIdentity: () => undefined,
          });
    this.socket = sock;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 1000);
    this.timer = setTimeout(() => this.fail(sock, 'connect timeout'), this.opts.connectTimeoutMs);
    sock.once(tls === null ? 'connect' : 'secureConnect', () => {
      this.clearTimer();
      if (sock instanceof TLSSocket) {
        const problem = peerCertProblem(sock);
        if (problem !== null) return this.fail(sock, `TLS: node ${this.peerId} is not trusted: ${problem}`);
      }
      this.state = 'handshaking';
      sock.write(encodeFrame(helloFrame(this.opts, this.peerId, this.hello.version)));
      this.timer = setTimeout(() => this.fail(sock, 'handshake timeout'), this.opts.handshakeTimeoutMs);
    });
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    sock.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (f) => this.onFrame(sock, f));
      } catch (e) {
        this.fail(sock, badFrameReason(chunk, e as Error, this.peerId, `${this.addr.host}:${this.addr.port}`));
      }
    });
    sock.on('drain', () => this.flush());
    sock.on('error', (e: NodeJS.ErrnoException) => this.fail(sock, tlsHint(tls !== null, e), e.code));
    sock.on('close', () => this.onClose(sock));
  }

  /** One context per material (a reload replaces the material; the next dial uses it). */
  private secureContext(m: TlsMaterial): SecureContext {
    if (this.tlsContext?.material !== m)
      this.tlsContext = { material: m, context: createSecureContext({ cert: m.cert, key: m.key, ca: m.ca }) };
    return this.tlsContext.context;
  }

  private fail(sock: Socket, reason: string, code?: string): void {
    // Count each connection's failure once ('error' arrives with the socket already destroyed).
    if (sock !== this.socket || this.failedSocket === sock) return;
    this.failedSocket = sock;
    this.stats.errors++;
    const fields = { peer: this.peerId, addr: `${this.addr.host}:${this.addr.port}`, reason };
    // A peer refusing before it was ever reached is most likely still starting (members of a new
    // cluster start one after another): not worth a warning for the first seconds.
    const sinceFirstDialMs = performance.now() - (this.firstDialAtMs ?? 0);
    if (code === 'ECONNREFUSED' && this.stats.connects === 0 && sinceFirstDialMs < NOT_YET_LISTENING_GRACE_MS) {
      if (!this.notListeningLogged) this.opts.logger.info(fields, `node ${this.peerId} is not listening yet; retrying`);
      this.notListeningLogged = true;
      sock.destroy();
      return;
    }
    if (!this.failureLogged) this.opts.logger.warn(fields, `error sending to node ${this.peerId}`);
    else this.opts.logger.debug(fields, `still cannot reach node ${this.peerId}`);
    this.failureLogged = true;
    sock.destroy();
  }

  private onClose(sock: Socket): void {
    if (sock !== this.socket) return;
    this.socket = null;
    this.clearTimer();
    if (this.stats.connected) this.opts.logger.warn({ peer: this.peerId }, `connection to node ${this.peerId} lost`);
    this.hello = nextHello(this.hello, this.opts.protocolVersions.max);
    this.stats.connected = false;
    this.ctl = [];
    if (this.snap !== null) this.snap.awaitingOfferAck = true;
    if (this.state === 'stopped') return;
    const baseMs = Math.min(
      this.opts.reconnectBackoffMaxMs,
      this.opts.reconnectBackoffMinMs * 2 ** Math.min(this.attempts, 30),
    );
    const delayMs = Math.max(1, Math.round(baseMs / 2 + (this.opts.random() * baseMs) / 2));
    this.attempts++;
    this.state = 'backoff';
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
  }

  private onFrame(sock: Socket, f: Frame): void {
    switch (f.kind) {
      case 'hello-ok':
        if (this.state !== 'handshaking') return this.fail(sock, 'unexpected hello-ok');
        if (f.version > this.hello.version || f.version < this.opts.protocolVersions.min)
          return this.fail(sock, `hello-ok chose peer protocol ${f.version}, which was not offered`);
        this.clearTimer();
        [this.state, this.attempts, this.failureLogged] = ['ready', 0, false];
        [this.stats.protocolVersion, this.stats.software, this.stats.connected] = [f.version, f.software, true];
        this.stats.connects++;
        this.refusals.clear();
        this.opts.logger.info(
          { peer: this.peerId, addr: `${this.addr.host}:${this.addr.port}`, protocol: f.version },
          `connected to node ${this.peerId} (${buildName(f.software, f.version)}, peer protocol ${f.version})`,
        );
        if (this.snap !== null) this.offerSnapshot();
        this.scheduleFlush();
        return;
      case 'refuse': {
        const older = fallbackVersion(f.reason, this.hello.version, this.opts.protocolVersions.min);
        if (older !== null) {
          this.opts.logger.info({ peer: this.peerId }, `node ${this.peerId} speaks peer protocol ${older}; using it`);
          [this.hello, this.attempts] = [{ version: older, fellBack: true }, 0]; // redial at once
          return void sock.destroy();
        }
        // The reason is the other node's; logged once per cause and interval (it redials several times a second).
        this.refusals.warn(
          f.reason,
          { peer: this.peerId, reason: f.reason },
          `node ${this.peerId} refused this node's connection`,
        );
        this.failureLogged = true;
        this.stats.errors++;
        sock.destroy();
        noteRefusal(this.opts.identity, this.peerId, f.code, f.reason);
        return;
      }
      case 'snap-ack':
        return this.onSnapshotAck(f.id, f.offset, f.rejected);
      default:
        return this.fail(sock, `unexpected ${f.kind} frame on an outbound connection`);
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  // ------------------------------------------------------------------ writing

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything queued in this turn of the event loop leaves in one write (one writev syscall).
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const sock = this.socket;
    if (this.state !== 'ready' || sock === null || sock.destroyed || sock.writableNeedDrain) return;
    if (this.ctl.length === 0 && this.head === this.queue.length) return;
    this.stats.writeBatches++;
    sock.cork();
    for (const frame of this.ctl) {
      sock.write(frame);
      this.stats.bytesSent += frame.length;
    }
    this.ctl = [];
    // Messages that waited too long (peer unreachable) are dropped, not delivered late: a burst of
    // stale heartbeats would only make the peer believe in a lease that is long gone.
    const staleBeforeMs = performance.now() - this.opts.maxQueuedMessageAgeMs;
    for (let i = this.head; i < this.queue.length; i++) {
      const frame = this.queue[i] as Uint8Array;
      if ((this.queuedAtMs[i] as number) < staleBeforeMs) {
        this.stats.drops++;
        continue;
      }
      sock.write(frame);
      this.stats.bytesSent += frame.length;
      this.stats.msgsSent++;
    }
    this.queue = [];
    this.queuedAtMs = [];
    this.head = 0;
    this.stats.queuedBytes = 0;
    sock.uncork();
  }

  // ------------------------------------------------------------------ snapshot sending

  private offerSnapshot(): void {
    const s = this.snap;
    if (s === null) return;
    s.awaitingOfferAck = true;
    this.ctl.push(encodeFrame({ kind: 'snap-offer', id: s.id, msg: s.msg }));
    this.scheduleFlush();
  }

  private onSnapshotAck(id: TransferId, offset: number, rejected: boolean): void {
    const s = this.snap;
    if (s === null || !sameTransfer(s.id, id)) return; // an ack for a replaced transfer
    if (rejected) {
      // Refused: another leader's transfer is under way there, this term is over, or the data was bad.
      this.opts.logger.info({ peer: this.peerId, index: id.index }, 'peer refused the snapshot');
      this.stats.errors++;
      this.endSnapshot();
      return;
    }
    if (s.awaitingOfferAck) {
      // Resume where the receiver stands (0 if it had nothing of this transfer).
      s.awaitingOfferAck = false;
      s.acked = offset;
      s.sent = offset;
    } else {
      s.acked = Math.max(s.acked, offset);
    }
    if (s.acked === s.id.totalBytes) {
      this.stats.snapshotsSent++;
      this.opts.logger.info({ peer: this.peerId, index: id.index, bytes: id.totalBytes }, 'snapshot delivered');
      this.endSnapshot();
      return;
    }
    this.pumpSnapshot(s);
  }

  private endSnapshot(): void {
    this.snap?.source.release();
    this.snap = null;
  }

  /** Queues the chunks the window allows, read from the source (outbound-snapshot.ts, pumpChunks). */
  private pumpSnapshot(s: OutgoingSnapshot): void {
    pumpChunks(s, {
      chunkBytes: this.opts.snapshotChunkBytes,
      windowBytes: this.opts.snapshotChunkBytes * this.opts.snapshotWindowChunks,
      current: () => this.snap === s,
      push: (at, data) => {
        this.ctl.push(encodeFrame({ kind: 'snap-chunk', id: s.id, offset: at, data }));
        this.stats.snapshotBytesSent += data.length;
        this.scheduleFlush();
      },
      fail: (err) => {
        this.stats.errors++;
        this.opts.logger.error(
          { peer: this.peerId, index: s.id.index, err: err.message },
          'reading the snapshot to send failed; the core will offer it again',
        );
        this.endSnapshot();
      },
    });
  }
}

const EMPTY = new Uint8Array(0);
