// The receiving half of snapshot transfers (inbound.ts hands it the snapshot frames of handshaken
// peers). Issue 16: an offer is decided before anything is allocated for it, at most one transfer is
// received at a time per node (whichever leader sends it), and its bytes go to a spool (spool.ts: a
// file in the server) instead of a buffer of the snapshot's size; acknowledged while the spool is at
// most one window behind, so what waits in memory is two of the sender's windows at most.
import type { Socket } from 'node:net';
import { crc32 } from 'node:zlib';
import type { Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import { encodeFrame, type TransferId } from './codec.ts';
import { sameTransfer } from './outbound-snapshot.ts';
import type { PeerStats, ResolvedOptions } from './options.ts';
import type { ReceivedSnapshotData, SnapshotSpool } from './spool.ts';
import { LimitedLog } from '../util/log-limit.ts';

export type SnapshotHandler = (from: NodeId, msg: SnapshotRequest, data: ReceivedSnapshotData) => void;

/**
 * What the node says about an offered snapshot, before anything is allocated for it:
 * - 'accept': receive it;
 * - 'have': this node already holds that state (the index is at or below its commit index, or a
 *   copy at that index was received and waits for its install);
 * - 'stale': sent in an earlier term than this node's.
 */
export type OfferVerdict = 'accept' | 'have' | 'stale';
export type OfferJudge = (from: NodeId, msg: SnapshotRequest) => OfferVerdict;

/** The one transfer being received (at most one per node at a time, whichever leader sends it). */
interface IncomingSnapshot {
  readonly peer: NodeId;
  readonly id: TransferId;
  msg: SnapshotRequest;
  /** The connection its latest frame came on (acks go there; a resumed transfer moves it). */
  sock: Socket;
  readonly spool: SnapshotSpool;
  /** Bytes accepted in order and handed to the spool. */
  received: number;
  /** Bytes the spool stored. Invariant: stored <= received. */
  stored: number;
  /** The last offset acknowledged: at most received, and below totalBytes until the CRC checked. */
  acked: number;
  /** CRC32 of the bytes received so far (checked against id.crc32 once all are stored). */
  crc: number;
  /** All stored and checked; being read back for delivery. */
  complete: boolean;
}

export interface ReceiverCallbacks {
  statsFor(peer: NodeId): PeerStats | undefined;
  /** A declined offer's SnapshotRequest goes to the core as a plain message (it needs no data then). */
  onMessage(msg: Message): void;
  onSnapshot: SnapshotHandler;
  judgeOffer: OfferJudge;
  /** Counts an error against the peer. */
  bump(peer: NodeId): void;
}

export class SnapshotReceiver {
  private incoming: IncomingSnapshot | null = null;
  /** Declined offers, at info level: a leader re-offers until its core hears the answer. */
  private readonly offers: LimitedLog;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly cb: ReceiverCallbacks,
  ) {
    this.offers = new LimitedLog({ warn: (o, m) => opts.logger.info(o, m ?? '') }, opts.refusalLogIntervalMs);
  }

  /** Drops the transfer in progress (its spool file with it). */
  stop(): void {
    if (this.incoming !== null) this.dropIncoming(this.incoming);
  }

  private ack(sock: Socket, id: TransferId, offset: number, rejected = false): void {
    if (sock.destroyed || sock.writableEnded) return; // a resumed transfer is acknowledged on its new connection
    sock.write(encodeFrame({ kind: 'snap-ack', id, offset, rejected }));
  }

  /**
   * An offer is decided before anything is allocated for it (issue 16): one the node already holds
   * is acknowledged as complete with no data, one from an earlier term is refused, and at most one
   * transfer is received at a time — a later leader's offer replaces an earlier leader's transfer.
   */
  onOffer(sock: Socket, peer: NodeId, id: TransferId, msg: SnapshotRequest): void {
    if (msg.from !== peer || msg.to !== this.opts.selfId) {
      this.cb.bump(peer);
      return this.ack(sock, id, 0, true);
    }
    if (id.totalBytes > this.opts.maxSnapshotBytes) {
      this.cb.bump(peer);
      this.opts.logger.warn(
        { peer, bytes: id.totalBytes, max: this.opts.maxSnapshotBytes },
        'rejecting snapshot over maxSnapshotBytes',
      );
      return this.ack(sock, id, 0, true);
    }
    const cur = this.incoming;
    if (cur !== null && cur.peer === peer && sameTransfer(cur.id, id)) {
      // A resumed transfer (a reconnect, or the leader's re-offer): keep the newest lease/round information.
      cur.msg = msg;
      cur.sock = sock;
      this.opts.logger.info({ peer, index: id.index, offset: cur.received }, 'resuming snapshot');
      // The next byte expected (all of them stored and checked: the end); chunks that are still
      // being stored count as received (a failed write ends the transfer).
      if (!cur.complete) cur.acked = Math.max(cur.acked, Math.min(cur.received, id.totalBytes - 1));
      return this.ack(sock, id, cur.complete ? id.totalBytes : cur.acked);
    }
    const verdict = this.cb.judgeOffer(peer, msg);
    if (verdict !== 'accept') return this.decline(sock, peer, id, msg, verdict);
    if (cur !== null && cur.peer !== peer && msg.term <= cur.msg.term) {
      // Another leader's transfer of this term or a later one is under way: this sender's term is
      // over or about to be (one leader per term). Refused; its core offers again if it is still leader.
      const s = this.cb.statsFor(peer);
      if (s !== undefined) s.snapshotOffersDeclined++;
      this.offers.warn(
        `busy ${peer}`,
        { peer, index: id.index, term: msg.term, receiving: cur.id.index, from: cur.peer, fromTerm: cur.msg.term },
        'refusing a snapshot offer: one from a leader of the same or a later term is being received',
      );
      return this.ack(sock, id, 0, true);
    }
    if (cur !== null) {
      // The same sender's newer snapshot, or a later leader's: the partial one will never be needed.
      this.opts.logger.info(
        { peer, index: id.index, term: msg.term, replaced: cur.id.index, from: cur.peer, fromTerm: cur.msg.term },
        'a newer snapshot offer replaces the transfer in progress',
      );
      this.dropIncoming(cur);
      // Its sender gives the transfer up (else its link would wait for acks for ever, holding the bytes).
      if (cur.peer !== peer) this.ack(cur.sock, cur.id, 0, true);
    }
    const fresh: IncomingSnapshot = {
      peer,
      id,
      msg,
      sock,
      spool: this.opts.snapshotSpool(id.totalBytes, msg.snapshot),
      received: 0,
      stored: 0,
      acked: 0,
      crc: 0,
      complete: false,
    };
    this.incoming = fresh;
    this.opts.logger.info({ peer, index: id.index, bytes: id.totalBytes }, 'receiving snapshot');
    if (id.totalBytes === 0) return this.onStored(fresh, 0, null); // no chunk will come
    this.ack(sock, id, 0);
  }

  /**
   * 'have': acknowledged as delivered (the sender's transfer ends) and the SnapshotRequest goes to
   * the core, which answers the leader with its commit index (replication.ts, handleSnapshot).
   * 'stale': refused, and the request goes to the core, which tells the old leader the newer term.
   */
  private decline(sock: Socket, peer: NodeId, id: TransferId, msg: SnapshotRequest, verdict: OfferVerdict): void {
    const s = this.cb.statsFor(peer);
    if (s !== undefined) s.snapshotOffersDeclined++;
    if (this.incoming?.peer === peer) this.dropIncoming(this.incoming); // that sender moved on
    this.offers.warn(
      `${verdict} ${peer}`,
      { peer, index: id.index, term: msg.term, verdict },
      verdict === 'have'
        ? 'snapshot offer at an index this node already holds: acknowledged without its data'
        : 'snapshot offer from an earlier term: refused',
    );
    this.ack(sock, id, verdict === 'have' ? id.totalBytes : 0, verdict !== 'have');
    this.cb.onMessage(msg);
  }

  /** Bytes received but not yet stored that may still be acknowledged: one sender's window. */
  private aheadBytes(): number {
    return this.opts.snapshotChunkBytes * this.opts.snapshotWindowChunks;
  }

  /**
   * Acknowledges what was received while the spool is at most one window behind, so the disk is not
   * on the transfer's round trip; a slower disk holds the acks back, and with them the sender (what
   * waits in memory: two windows at most). The last byte is acknowledged only once all are stored
   * and checked (the sender counts the transfer delivered then).
   */
  private ackProgress(cur: IncomingSnapshot): void {
    const to = Math.min(cur.received, cur.id.totalBytes - 1);
    if (to <= cur.acked || cur.received - cur.stored > this.aheadBytes()) return;
    cur.acked = to;
    this.ack(cur.sock, cur.id, to);
  }

  private dropIncoming(cur: IncomingSnapshot): void {
    cur.spool.discard();
    if (this.incoming === cur) this.incoming = null;
  }

  onChunk(sock: Socket, peer: NodeId, id: TransferId, offset: number, data: Uint8Array): void {
    const cur = this.incoming;
    if (cur === null || cur.peer !== peer || !sameTransfer(cur.id, id)) {
      // A chunk of a replaced or dropped transfer: its sender gives it up (it ignores this if it moved on).
      return this.ack(sock, id, 0, true);
    }
    if (offset < cur.received && offset + data.length <= cur.received) {
      // A chunk we already have: the sender restarted from an older acknowledgement while this one
      // was in flight (a resumed or re-offered transfer). Harmless; tell it where we are.
      this.ack(sock, id, cur.acked);
      return;
    }
    if (offset !== cur.received) {
      // A gap: impossible on one ordered connection unless the sender is broken: resync through a reconnect.
      this.cb.bump(peer);
      this.opts.logger.warn({ peer, offset, expected: cur.received }, 'snapshot chunk out of order; closing');
      sock.destroy();
      return;
    }
    cur.sock = sock;
    cur.received += data.length;
    cur.crc = crc32(data, cur.crc);
    const s = this.cb.statsFor(peer);
    if (s !== undefined) s.snapshotBytesReceived += data.length;
    cur.spool.append(data, (err) => this.onStored(cur, data.length, err));
    this.ackProgress(cur);
  }

  private onStored(cur: IncomingSnapshot, bytes: number, err: Error | null): void {
    if (this.incoming !== cur) return; // replaced or stopped meanwhile
    if (err !== null) {
      this.cb.bump(cur.peer);
      this.opts.logger.error(
        { peer: cur.peer, index: cur.id.index, err: err.message },
        'storing received snapshot data failed; rejecting the transfer',
      );
      this.dropIncoming(cur);
      return this.ack(cur.sock, cur.id, 0, true);
    }
    cur.stored += bytes;
    if (cur.stored < cur.id.totalBytes) return this.ackProgress(cur);
    if (cur.crc !== cur.id.crc32) {
      this.cb.bump(cur.peer);
      this.opts.logger.error({ peer: cur.peer, index: cur.id.index }, 'snapshot data CRC mismatch; rejecting');
      this.dropIncoming(cur);
      return this.ack(cur.sock, cur.id, 0, true);
    }
    cur.complete = true;
    this.ack(cur.sock, cur.id, cur.id.totalBytes);
    const s = this.cb.statsFor(cur.peer);
    if (s !== undefined) s.snapshotsReceived++;
    this.opts.logger.info({ peer: cur.peer, index: cur.id.index, bytes: cur.id.totalBytes }, 'snapshot received');
    // Judged again: the node may have moved on while it arrived (a later term, or the state reached
    // through the log or another copy). Then its bytes are never read back; the request goes to the core.
    const verdict = this.cb.judgeOffer(cur.peer, cur.msg);
    if (verdict !== 'accept') {
      this.dropIncoming(cur);
      this.opts.logger.info(
        { peer: cur.peer, index: cur.id.index, verdict },
        'received snapshot no longer needed: not read back',
      );
      return this.cb.onMessage(cur.msg);
    }
    // Read back in one piece, or handed over as its file (the server), for the install; the slot
    // stays taken until then (no second transfer meanwhile).
    cur.spool.complete((readErr, data) => {
      if (this.incoming !== cur) {
        // Replaced by a later leader's offer, or stopped.
        if (data !== null && !(data instanceof Uint8Array)) data.release();
        return;
      }
      this.incoming = null;
      if (readErr !== null || data === null) {
        this.cb.bump(cur.peer);
        this.opts.logger.error(
          { peer: cur.peer, index: cur.id.index, err: readErr?.message },
          'reading back a received snapshot failed; the leader will offer it again',
        );
        return;
      }
      this.cb.onSnapshot(cur.peer, cur.msg, data);
    });
  }
}
