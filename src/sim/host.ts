// One simulated node process: the consensus core plus the host loop around it (Ready contract of
// src/raft/types.ts), its clock, its in-memory storage and its state machine. A paused or crashed
// process does nothing; while an fsync is in flight the (single-threaded) process is blocked and
// inputs wait in its inbox, like a socket buffer.
import type { ConfChange, Entry, NodeId, RaftEvent, Ready } from '../raft/types.ts';
import { EntryType } from '../raft/types.ts';
import type { NodeClock } from './clock.ts';
import type { Core, Restored } from './core.ts';
import type { ClientRequest, ClientResponse, Envelope, SimEvent } from './events.ts';
import { KvStateMachine, decodePut, encodePut } from './kvsm.ts';
import type { MemStorage, StoredSnapshot } from './storage.ts';

/** What a node process can do to the world around it. */
export interface HostWorld {
  readonly nowUs: number;
  schedule(atUs: number, ev: SimEvent): void;
  sendPeer(env: Envelope): void;
  reply(node: NodeId, resp: ClientResponse): void;
  fsyncLatencyUs(): number;
  makeCore(id: NodeId, restored: Restored | null): Core;
  observeWrite(node: NodeId, entries: readonly Entry[]): void;
  observeApply(node: NodeId, entry: Entry): void;
  observeEvents(node: NodeId, events: readonly RaftEvent[]): void;
  observeLeaseRead(node: NodeId, commitIndex: number): void;
  /** Hard errors in the host contract (e.g. a snapshot without data): reported as violations. */
  fail(node: NodeId, what: string): void;
}

type Input =
  { kind: 'msg'; env: Envelope } | { kind: 'client'; req: ClientRequest } | { kind: 'transfer'; target: NodeId };

/** Bound on queued inputs while paused/blocked; beyond it the "socket buffer" overflows (drops). */
const INBOX_LIMIT = 20_000;
/** Compact the log when this many applied entries sit above the last snapshot. */
const COMPACT_EVERY = 64;

interface PendingRead {
  readonly req: ClientRequest;
  readonly index: number;
  readonly viaLease: boolean;
}

export class SimNode {
  core: Core | null = null;
  kv = new KvStateMachine();
  paused = false;
  /** The Ready waiting for its fsync; the process is blocked while set. */
  private blockedOn: Ready | null = null;
  /** Bumped on crash so that in-flight fsync completions of a dead process are ignored. */
  private epoch = 0;
  private tickGen = 0;
  private tickAtUs = -1;
  private inbox: Input[] = [];
  private pendingWrites = new Map<number, { req: ClientRequest; term: number }>();
  private pendingReads: PendingRead[] = [];
  private readIndexReqs = new Map<number, ClientRequest>();
  private nextReadId = 1;
  private snapStash = new Map<string, StoredSnapshot>();

  constructor(
    readonly id: NodeId,
    readonly clock: NodeClock,
    public storage: MemStorage,
    private readonly world: HostWorld,
  ) {}

  get up(): boolean {
    return this.core !== null;
  }

  /** Waiting for an fsync (the single-threaded process does nothing else meanwhile). */
  get blocked(): boolean {
    return this.blockedOn !== null;
  }

  /** The operator's membership command, handled at once by a running, unblocked process. */
  proposeConfChange(cc: ConfChange): boolean {
    if (this.core === null || this.paused || this.blockedOn !== null) return false;
    const ok = this.core.proposeConfChange(cc, this.nowMs()).ok;
    this.drain();
    return ok;
  }

  nowMs(): number {
    return this.clock.localMs(this.world.nowUs);
  }

  start(): void {
    const durable = this.storage.durableState;
    const fresh = durable.hardState.term === 0 && durable.entries.length === 0 && durable.snapshot === null;
    this.kv = new KvStateMachine();
    if (durable.snapshot !== null) this.kv.restore(durable.snapshot.kv);
    const restored: Restored | null = fresh
      ? null
      : { hardState: durable.hardState, snapshot: durable.snapshot?.meta ?? null, entries: durable.entries.slice() };
    this.core = this.world.makeCore(this.id, restored);
    this.paused = false;
    this.drain();
  }

  crash(): void {
    this.core = null;
    this.epoch++;
    this.tickGen++;
    this.tickAtUs = -1;
    this.blockedOn = null;
    this.inbox = [];
    this.pendingWrites.clear();
    this.pendingReads = [];
    this.readIndexReqs.clear();
    this.snapStash.clear();
    this.paused = false;
    this.storage.crash();
  }

  pause(): void {
    if (this.up) this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.tickAtUs = -1;
    this.runInbox();
  }

  deliver(input: Input): void {
    if (this.core === null) return;
    if (this.paused || this.blockedOn !== null) {
      if (this.inbox.length < INBOX_LIMIT) this.inbox.push(input);
      return;
    }
    this.handle(input);
    this.drain();
  }

  onTick(gen: number): void {
    if (gen !== this.tickGen) return;
    this.tickAtUs = -1;
    if (this.core === null || this.paused || this.blockedOn !== null) return; // rescheduled on wake
    this.core.tick(this.nowMs());
    this.drain();
  }

  onFsync(epoch: number): void {
    const rd = this.blockedOn;
    if (epoch !== this.epoch || rd === null) return;
    this.storage.sync();
    this.blockedOn = null;
    this.finishReady(rd);
    this.runInbox();
  }

  private runInbox(): void {
    while (this.core !== null && !this.paused && this.blockedOn === null && this.inbox.length > 0) {
      this.handle(this.inbox.shift()!);
      this.drain();
    }
    this.drain();
  }

  private handle(input: Input): void {
    const core = this.core!;
    const now = this.nowMs();
    if (input.kind === 'msg') {
      const { msg, snapshot } = input.env;
      if (msg.type === 'snap' && snapshot !== null)
        this.snapStash.set(snapKey(msg.snapshot.index, msg.snapshot.term), snapshot);
      core.step(msg, now);
    } else if (input.kind === 'transfer') {
      core.transferLeadership(input.target, now);
    } else {
      this.handleClient(input.req, now);
    }
  }

  private handleClient(req: ClientRequest, now: number): void {
    const core = this.core!;
    if (req.op === 'put') {
      const r = core.propose(encodePut({ key: req.key, value: req.value ?? '' }), now);
      if (r.ok) this.pendingWrites.set(r.index, { req, term: r.term });
      else this.answer(req, false, 0, null, r.leaderHint, false);
      return;
    }
    const idx = core.leaseRead(now);
    if (idx !== null) {
      this.world.observeLeaseRead(this.id, idx);
      this.pendingReads.push({ req, index: idx, viaLease: true });
      this.answerReads();
      return;
    }
    const id = this.nextReadId++;
    this.readIndexReqs.set(id, req);
    core.readIndex(id, now);
  }

  /** Runs the Ready loop until the core has nothing more to say or the process blocks on fsync. */
  private drain(): void {
    for (let guard = 0; this.core !== null && !this.paused && this.blockedOn === null; guard++) {
      if (guard > 10_000) throw new Error(`sim host ${this.id}: Ready loop did not settle`);
      const rd = this.core.ready(this.nowMs());
      if (rd === null) break;
      this.world.observeEvents(this.id, rd.events);
      for (const o of rd.messages) if (!o.afterPersist) this.send(o.msg);
      this.persist(rd);
      if (rd.mustSync) {
        this.blockedOn = rd;
        this.world.schedule(this.world.nowUs + this.world.fsyncLatencyUs(), {
          k: 'fsync',
          node: this.id,
          epoch: this.epoch,
        });
        return;
      }
      this.finishReady(rd);
    }
    this.scheduleTick();
  }

  private persist(rd: Ready): void {
    if (rd.snapshot !== null) {
      const data = this.snapStash.get(snapKey(rd.snapshot.index, rd.snapshot.term));
      if (data === undefined) {
        this.world.fail(this.id, `Ready.snapshot ${rd.snapshot.index}/${rd.snapshot.term} without received data`);
      } else {
        this.storage.installSnapshot({ meta: rd.snapshot, kv: data.kv });
        this.kv.restore(data.kv);
      }
    }
    if (rd.entries.length > 0) {
      this.storage.append(rd.entries);
      this.world.observeWrite(this.id, rd.entries);
    }
    if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
  }

  private finishReady(rd: Ready): void {
    const core = this.core!;
    for (const o of rd.messages) if (o.afterPersist) this.send(o.msg);
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) {
      const req = this.readIndexReqs.get(rs.requestId);
      if (req === undefined) continue;
      this.readIndexReqs.delete(rs.requestId);
      this.pendingReads.push({ req, index: rs.index, viaLease: false });
    }
    for (const f of rd.readFailures) {
      const req = this.readIndexReqs.get(f.requestId);
      if (req === undefined) continue;
      this.readIndexReqs.delete(f.requestId);
      this.answer(req, false, 0, null, f.leaderHint, false);
    }
    this.answerReads();
    core.advance(rd, this.nowMs());
    this.maybeCompact();
  }

  private apply(e: Entry): void {
    if (e.index <= this.kv.appliedIndex) return; // covered by a restored snapshot
    this.world.observeApply(this.id, e);
    this.kv.apply(e.index, e.type === EntryType.Normal ? decodePut(e.data) : null);
    const w = this.pendingWrites.get(e.index);
    if (w !== undefined) {
      this.pendingWrites.delete(e.index);
      this.answer(w.req, e.term === w.term, e.index, null, null, false);
    }
  }

  private answerReads(): void {
    if (this.pendingReads.length === 0) return;
    const still: PendingRead[] = [];
    for (const r of this.pendingReads) {
      if (this.kv.appliedIndex < r.index) {
        still.push(r);
        continue;
      }
      const v = this.kv.get(r.req.key);
      this.answer(r.req, true, v?.index ?? 0, v?.value ?? null, null, r.viaLease);
    }
    this.pendingReads = still;
  }

  private maybeCompact(): void {
    const applied = this.kv.appliedIndex;
    if (applied - this.storage.snapshotIndex() < COMPACT_EVERY) return;
    const term = this.storage.termAt(applied);
    if (term === undefined) return;
    this.core!.compact(applied);
    this.storage.compact({
      meta: { index: applied, term, confState: this.core!.confStateAt(applied) },
      kv: this.kv.snapshot(),
    });
  }

  private send(msg: Envelope['msg']): void {
    const snap = msg.type === 'snap' ? this.storage.current.snapshot : null;
    this.world.sendPeer({ msg, snapshot: snap });
  }

  private answer(
    req: ClientRequest,
    ok: boolean,
    index: number,
    value: string | null,
    hint: NodeId | null,
    viaLease: boolean,
  ): void {
    this.world.reply(this.id, {
      client: req.client,
      opId: req.opId,
      from: this.id,
      ok,
      index,
      value,
      leaderHint: hint,
      viaLease,
    });
  }

  /** The clock's rate changed: the next tick falls at a different true time. */
  rescheduleTick(): void {
    this.tickAtUs = -1;
    this.tickGen++;
    this.scheduleTick();
  }

  private scheduleTick(): void {
    if (this.core === null || this.paused || this.blockedOn !== null) return;
    const atUs = Math.max(this.clock.trueUsAt(this.core.nextTickAtMs()), this.world.nowUs + 1);
    if (atUs === this.tickAtUs) return;
    this.tickAtUs = atUs;
    this.world.schedule(atUs, { k: 'tick', node: this.id, gen: ++this.tickGen });
  }
}

function snapKey(index: number, term: number): string {
  return `${index}/${term}`;
}
