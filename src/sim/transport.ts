// The simulated peer transport, behaving like the real one (src/transport): the messages of one
// send() to one peer travel as one frame (batched; many frames in flight: pipelined), over the
// simulated network (network.ts: latency, loss, duplication, reordering, partitions), and
// snapshots stream in chunks with a window, acknowledged by the receiver, which keeps a partial
// transfer across a broken connection so the sender resumes from the acknowledged offset (the real
// transport's inbound.ts/outbound.ts). A crash loses the process's half of every transfer.
import type { Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import type { HostTransport } from '../host/types.ts';
import type { Network } from './network.ts';

/** Chunk size and window: small, so that the sim's snapshots (hundreds of bytes) take several round trips. */
const CHUNK_BYTES = 64;
const WINDOW_CHUNKS = 2;
/** No progress for this long: the connection is considered broken, and the sender resumes. */
const RESUME_AFTER_US = 60_000;

/** A simulated node process as the wire sees it. */
export interface WireEnd {
  /** Runs `fn` in the node's process (queued while paused, dropped while down). */
  inProcess(fn: () => void): void;
  readonly transport: SimTransport;
}

export interface WireWorld {
  readonly nowUs: number;
  after(us: number, fn: () => void): void;
  end(id: NodeId): WireEnd | undefined;
  /** Log entries and snapshots to a starved node are lost (votes and heartbeats still arrive). */
  starved(id: NodeId): boolean;
}

interface Outgoing {
  readonly msg: SnapshotRequest;
  readonly data: Uint8Array;
  acked: number;
  sent: number;
  /** Bumped on every (re)start of a window, so stale resume timers do nothing. */
  round: number;
}

interface Incoming {
  readonly index: number;
  readonly term: number;
  readonly total: number;
  msg: SnapshotRequest;
  readonly buf: Uint8Array;
  received: number;
}

/** The network between the simulated processes: frames and snapshot streams. */
export class Wire {
  private readonly out = new Map<string, Outgoing>();
  private readonly incoming = new Map<string, Incoming>();
  /** Counters for tests: snapshot chunks sent and transfers resumed after a broken connection. */
  readonly stats = { frames: 0, chunks: 0, resumes: 0, snapshots: 0 };

  constructor(
    private readonly net: Network,
    private readonly world: WireWorld,
  ) {}

  /** One frame per destination, in send order. */
  send(from: NodeId, msgs: readonly Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of msgs) {
      if (m.type === 'app' && m.entries.length > 0 && this.world.starved(m.to)) continue;
      let list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, frame] of byPeer) {
      this.stats.frames++;
      this.over(from, to, () => this.world.end(to)?.inProcess(() => this.world.end(to)?.transport.receive(frame)));
    }
  }

  /** Starts (or replaces) the snapshot transfer from → msg.to. */
  sendSnapshot(from: NodeId, msg: SnapshotRequest, data: Uint8Array): void {
    const s: Outgoing = { msg, data, acked: 0, sent: 0, round: 0 };
    this.out.set(key(from, msg.to), s);
    this.pump(from, s, true);
  }

  snapshotInProgress(from: NodeId, to: NodeId): boolean {
    return this.out.has(key(from, to));
  }

  /** A process died: its transfers (sending and receiving) are gone. */
  drop(id: NodeId): void {
    for (const k of [...this.out.keys()]) if (k.startsWith(`${id}>`)) this.out.delete(k);
    for (const k of [...this.incoming.keys()]) if (k.endsWith(`>${id}`)) this.incoming.delete(k);
  }

  private over(from: NodeId, to: NodeId, fn: () => void): void {
    const now = this.world.nowUs;
    for (const at of this.net.plan(from, to, now))
      this.world.after(at - now, () => {
        if (!this.net.lostInFlight(from, to, now, this.world.nowUs)) fn();
      });
  }

  /** Sends what the window allows past what was sent; resumes from the acknowledged offset if nothing moves. */
  private pump(from: NodeId, s: Outgoing, resume: boolean): void {
    const to = s.msg.to;
    const round = ++s.round;
    const total = s.data.length;
    const start = resume ? s.acked : Math.max(s.sent, s.acked);
    const end = Math.min(total, s.acked + CHUNK_BYTES * WINDOW_CHUNKS);
    // The offer (offset 0) opens or resumes the transfer; an empty snapshot is the offer alone.
    for (let off = start; off < end || (total === 0 && off === 0); off += CHUNK_BYTES) {
      const chunk = s.data.subarray(off, Math.min(end, off + CHUNK_BYTES));
      this.stats.chunks++;
      if (!this.world.starved(to))
        this.over(from, to, () => this.world.end(to)?.inProcess(() => this.onChunk(from, s.msg, total, off, chunk)));
      if (total === 0) break;
    }
    s.sent = Math.max(start, end);
    this.world.after(RESUME_AFTER_US, () =>
      this.world.end(from)?.inProcess(() => {
        if (this.out.get(key(from, to)) !== s || s.round !== round) return;
        this.stats.resumes++;
        this.pump(from, s, true);
      }),
    );
  }

  private onChunk(from: NodeId, msg: SnapshotRequest, total: number, offset: number, chunk: Uint8Array): void {
    const to = msg.to;
    const k = key(from, to);
    let cur = this.incoming.get(k);
    if (
      cur === undefined ||
      cur.index !== msg.snapshot.index ||
      cur.term !== msg.snapshot.term ||
      cur.total !== total
    ) {
      // A new transfer replaces any partial one from this sender (the leader only sends its newest).
      cur = {
        index: msg.snapshot.index,
        term: msg.snapshot.term,
        total,
        msg,
        buf: new Uint8Array(total),
        received: 0,
      };
      this.incoming.set(k, cur);
    } else {
      cur.msg = msg; // a resumed transfer: keep the newest lease/round information
    }
    if (offset === cur.received && chunk.length > 0) {
      cur.buf.set(chunk, offset);
      cur.received += chunk.length;
    }
    const received = cur.received;
    if (received === total) {
      this.incoming.delete(k);
      this.stats.snapshots++;
      this.world.end(to)?.transport.receiveSnapshot(cur.msg, cur.buf);
    }
    this.over(to, from, () => this.world.end(from)?.inProcess(() => this.onAck(from, to, msg, received)));
  }

  private onAck(from: NodeId, to: NodeId, msg: SnapshotRequest, offset: number): void {
    const k = key(from, to);
    const s = this.out.get(k);
    if (s === undefined || s.msg.snapshot.index !== msg.snapshot.index) return;
    if (offset >= s.data.length) {
      this.out.delete(k);
      return;
    }
    if (offset === s.acked) return;
    // Behind what was acknowledged: the receiver restarted and lost its partial transfer; start over there.
    const back = offset < s.acked;
    s.acked = offset;
    this.pump(from, s, back);
  }
}

/** One node's transport (the host's HostTransport) over the shared wire. */
export class SimTransport implements HostTransport {
  private onMsg: (msg: Message) => void = () => {};
  private onSnap: (msg: SnapshotRequest, data: Uint8Array) => void = () => {};

  constructor(
    private readonly self: NodeId,
    private readonly wire: Wire,
  ) {}

  send(msgs: readonly Message[]): void {
    this.wire.send(this.self, msgs);
  }

  sendSnapshot(msg: SnapshotRequest, data: Uint8Array): void {
    this.wire.sendSnapshot(this.self, msg, data);
  }

  snapshotInProgress(to: NodeId): boolean {
    return this.wire.snapshotInProgress(this.self, to);
  }

  onMessage(handler: (msg: Message) => void): void {
    this.onMsg = handler;
  }

  onSnapshot(handler: (msg: SnapshotRequest, data: Uint8Array) => void): void {
    this.onSnap = handler;
  }

  receive(frame: readonly Message[]): void {
    for (const m of frame) this.onMsg(m);
  }

  receiveSnapshot(msg: SnapshotRequest, data: Uint8Array): void {
    this.onSnap(msg, data);
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
