// A tiny in-memory cluster for the core's unit tests: messages are delivered by hand, time moves
// only when a test moves it, every node may run its own clock rate. (The full fault-injecting
// simulator lives in src/sim/.) Pure like the core: no clock, no timers, no randomness.
import type { RaftConfigInput } from './config.ts';
import { validateRaftConfig } from './config.ts';
import { RaftNode } from './node.ts';
import type {
  Entry,
  HardState,
  LogRead,
  Message,
  NodeId,
  RaftEvent,
  ReadFailure,
  ReadState,
  Ready,
  SnapshotMeta,
} from './types.ts';

export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot: SnapshotMeta | null;
}

export interface TestNode {
  node: RaftNode;
  /** Local clock reading. */
  nowMs: number;
  /** Local ms per true ms (drift). */
  rate: number;
  disk: Disk;
  applied: Entry[];
  readStates: ReadState[];
  readFailures: ReadFailure[];
  events: RaftEvent[];
  /** Paused nodes neither tick nor receive (a stalled process); messages to them wait. */
  paused: boolean;
}

export type Filter = (m: Message) => boolean;

// One node driven by hand, and message builders: testkit-solo.ts (split along its seam).
export { Solo, heartbeat, voteReq } from './testkit-solo.ts';

/** What a host's log read returns from `disk` (types.ts, LogRead). */
export function readDisk(disk: Disk, r: LogRead): Entry[] | null {
  const first = disk.entries[0]?.index;
  if (first === undefined || r.lo < first) return null;
  const out: Entry[] = [];
  let bytes = 0;
  for (let i = r.lo; i <= r.hi; i++) {
    const e = disk.entries[i - first];
    if (e === undefined) break;
    bytes += e.data.length;
    if (out.length > 0 && bytes > r.maxBytes) break;
    out.push(e);
  }
  return out.length === 0 ? null : out;
}

export class TestCluster {
  /** The nodes that exist (bootstrap members, then any added with addNode). */
  ids: readonly NodeId[];
  readonly n = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  queue: Message[] = [];
  /** Returns true to DROP a message (partitions). */
  drop: Filter = () => false;
  trueMs = 0;
  /** Every event of every node, in order, one readable line each (see formatEvent). */
  readonly trace: string[] = [];
  /** Nodes whose disk is slow: their Ready is sent (non-afterPersist part) but held until flushDisk. */
  readonly slowDisk = new Set<NodeId>();
  /**
   * Nodes whose host pipelines (asynchronous storage writes): they keep taking Readies while earlier
   * ones are unpersisted; each Ready's non-afterPersist part leaves at once, the rest waits in order
   * until flushDisk (all) or flushSome (the oldest k).
   */
  readonly asyncDisk = new Set<NodeId>();
  private readonly held = new Map<NodeId, Ready[]>();
  /** Per-node override of the random source (election timeouts). */
  readonly rand = new Map<NodeId, number>();
  /**
   * Nodes whose log reads (Ready.logReads) wait in `logReads` until answerLogReads; the others are
   * answered from their disk as soon as the Ready is taken.
   */
  readonly holdLogReads = new Set<NodeId>();
  readonly logReads = new Map<NodeId, LogRead[]>();
  /** Every log read asked, by node (tests check the path ran). */
  readonly logReadsAsked = new Map<NodeId, number>();

  constructor(
    ids: readonly string[],
    readonly overrides: Partial<RaftConfigInput> = {},
    /** Per node random value in [0,1): decides its election timeouts. Default: in order of ids. */
    readonly randomOf: (id: NodeId) => number = (id) => (ids.indexOf(id) === 0 ? 0 : 0.3 + 0.1 * ids.indexOf(id)),
  ) {
    this.ids = ids;
    this.bootstrap = ids;
    for (const id of ids) this.n.set(id, this.fresh(id, 1000, null));
  }

  private readonly bootstrap: readonly NodeId[];
  /** Bootstrap configuration of nodes added later (what a joining node is told). */
  private readonly joinConf = new Map<NodeId, { voters: readonly NodeId[]; learners: readonly NodeId[] }>();

  /** A brand-new node with an empty disk that starts knowing `conf` (it joins as a learner). */
  addNode(id: NodeId, conf: { voters: readonly NodeId[]; learners: readonly NodeId[] }, nowMs = 1000): TestNode {
    this.joinConf.set(id, conf);
    this.ids = [...this.ids, id];
    const t = this.fresh(id, nowMs, null);
    this.n.set(id, t);
    return t;
  }

  private fresh(id: NodeId, nowMs: number, disk: Disk | null): TestNode {
    const jc = this.joinConf.get(id);
    const members = jc === undefined ? { members: this.bootstrap } : { members: jc.voters, learners: jc.learners };
    const config = validateRaftConfig({ ...this.overrides, id, ...members });
    const random = (): number => this.rand.get(id) ?? this.randomOf(id);
    const restored =
      disk === null ? undefined : { hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries.slice() };
    const node = new RaftNode(restored === undefined ? { config, random, nowMs } : { config, random, nowMs, restored });
    const d = disk ?? { hardState: { term: 0, votedFor: null, commit: 0 }, entries: [], snapshot: null };
    return { node, nowMs, rate: 1, disk: d, applied: [], readStates: [], readFailures: [], events: [], paused: false };
  }

  get(id: NodeId): TestNode {
    const t = this.n.get(id);
    if (t === undefined) throw new Error(`no node ${id}`);
    return t;
  }

  node(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /** Crash (losing nothing: the test disk is always synced) and restart from the disk. */
  restart(id: NodeId): void {
    const old = this.get(id);
    this.n.set(id, { ...this.fresh(id, old.nowMs, old.disk), rate: old.rate });
    this.queue = this.queue.filter((m) => m.to !== id);
    this.held.delete(id);
    this.slowDisk.delete(id);
  }

  /** Runs the host loop (types.ts) for one node until it has nothing more to do. */
  pump(id: NodeId): void {
    const t = this.get(id);
    if (this.held.has(id) && !this.asyncDisk.has(id)) {
      // The host's disk is busy with the held Ready: what needs no persistence still leaves.
      for (const o of t.node.takeUrgentMessages(t.nowMs)) this.queue.push(o.msg);
      return;
    }
    for (let i = 0; i < 100; i++) {
      const rd = t.node.ready(t.nowMs);
      if (rd === null) return;
      for (const o of rd.messages) if (!o.afterPersist) this.queue.push(o.msg);
      t.readStates.push(...rd.readStates);
      t.readFailures.push(...rd.readFailures);
      t.events.push(...rd.events);
      for (const e of rd.events) this.trace.push(formatEvent(this.trueMs, id, e));
      if (rd.logReads.length > 0) {
        this.logReadsAsked.set(id, (this.logReadsAsked.get(id) ?? 0) + rd.logReads.length);
        const q = this.logReads.get(id) ?? [];
        q.push(...rd.logReads);
        this.logReads.set(id, q);
        if (!this.holdLogReads.has(id)) this.answerLogReads(id, false);
      }
      if (this.asyncDisk.has(id)) {
        const q = this.held.get(id) ?? [];
        q.push(rd);
        this.held.set(id, q);
        continue;
      }
      if (this.slowDisk.has(id)) {
        this.held.set(id, [rd]);
        return;
      }
      this.persist(t, rd);
    }
    throw new Error('pump: Ready never ran dry');
  }

  /**
   * Answers a node's pending log reads from its disk (entries [lo, hi] up to maxBytes, at least one;
   * null when the disk no longer has lo). `pump` false: the caller's pump loop takes what follows.
   */
  answerLogReads(id: NodeId, pump = true): void {
    const t = this.get(id);
    const q = this.logReads.get(id) ?? [];
    this.logReads.delete(id);
    for (const r of q) t.node.entriesRead(r, readDisk(t.disk, r), t.nowMs);
    if (pump) this.pump(id);
  }

  /** Completes the held Ready of a slow-disk node and lets it run normally. */
  flushDisk(id: NodeId): void {
    this.slowDisk.delete(id);
    this.asyncDisk.delete(id);
    const q = this.held.get(id) ?? [];
    this.held.delete(id);
    for (const rd of q) this.persist(this.get(id), rd);
    this.pump(id);
  }

  /** An async-disk node finishes persisting its `k` oldest held Readies (in order); it stays async. */
  flushSome(id: NodeId, k: number): void {
    const q = this.held.get(id) ?? [];
    for (const rd of q.splice(0, k)) this.persist(this.get(id), rd);
    if (q.length === 0) this.held.delete(id);
    this.pump(id);
  }

  /** Readies an async-disk node holds unpersisted. */
  heldCount(id: NodeId): number {
    return this.held.get(id)?.length ?? 0;
  }

  private persist(t: TestNode, rd: Ready): void {
    if (rd.snapshot !== null) {
      t.disk.snapshot = rd.snapshot;
      t.disk.entries = [];
    }
    for (const e of rd.entries) {
      const first = t.disk.entries[0]?.index ?? (t.disk.snapshot?.index ?? 0) + 1;
      t.disk.entries.length = Math.max(0, e.index - first);
      t.disk.entries.push(e);
    }
    if (rd.hardState !== null) t.disk.hardState = rd.hardState;
    for (const o of rd.messages) if (o.afterPersist) this.queue.push(o.msg);
    t.applied.push(...rd.committedEntries);
    t.node.advance(rd, t.nowMs);
  }

  /** Moves one node's clock to its next timer and ticks it (others' clocks stay). */
  fire(id: NodeId): void {
    const t = this.get(id);
    t.nowMs = Math.max(t.nowMs, t.node.nextTickAtMs());
    t.node.tick(t.nowMs);
    this.pump(id);
  }

  /** Moves one node's clock by `ms` (a node whose clock runs ahead, or time it alone observed). */
  advanceNode(id: NodeId, ms: number): void {
    const t = this.get(id);
    t.nowMs += ms;
    t.node.tick(t.nowMs);
    this.pump(id);
  }

  pumpAll(): void {
    for (const id of this.ids) this.pump(id);
  }

  /** Delivers one queued message (the first one matching `pick`); returns it or null. */
  deliverOne(pick: (m: Message) => boolean = () => true): Message | null {
    const i = this.queue.findIndex((m) => pick(m) && !(this.n.get(m.to)?.paused ?? false));
    if (i < 0) return null;
    const [m] = this.queue.splice(i, 1);
    if (m === undefined) return null;
    if (this.drop(m) || !this.n.has(m.to)) return m; // nobody at that address: lost
    const t = this.get(m.to);
    t.node.step(m, t.nowMs);
    this.pump(m.to);
    return m;
  }

  /** Delivers until no deliverable message is left (bounded). */
  deliverAll(limit = 10_000): number {
    this.pumpAll();
    let count = 0;
    while (this.deliverOne() !== null) if (++count > limit) throw new Error('deliverAll: no quiescence');
    return count;
  }

  /** Moves true time by `ms`; every running node's clock moves by ms·rate, ticks and runs. */
  advance(ms: number): void {
    this.trueMs += ms;
    for (const id of this.ids) {
      const t = this.get(id);
      t.nowMs += ms * t.rate; // a paused process's clock runs on; it just does not notice
      if (t.paused) continue;
      t.node.tick(t.nowMs);
      this.pump(id);
    }
  }

  /** Advances in `stepMs` steps, delivering everything after each, for `totalMs`. */
  run(totalMs: number, stepMs = 10): void {
    for (let done = 0; done < totalMs; done += stepMs) {
      this.advance(stepMs);
      this.deliverAll();
    }
  }

  leaders(): NodeId[] {
    return this.ids.filter((id) => this.node(id).status(this.get(id).nowMs).role === 'leader');
  }

  /** Elects the first node (the default random makes it time out first) and settles. */
  electFirst(): NodeId {
    this.run(1100);
    const ls = this.leaders();
    if (ls.length !== 1) throw new Error(`expected one leader, got ${ls.join(',')}`);
    return ls[0] as NodeId;
  }

  propose(id: NodeId, text: string): number {
    const t = this.get(id);
    const r = t.node.propose(new TextEncoder().encode(text), t.nowMs);
    if (!r.ok) throw new Error(`propose on ${id} failed`);
    this.pump(id);
    return r.index;
  }

  leaseRead(id: NodeId): number | null {
    const t = this.get(id);
    return t.node.leaseRead(t.nowMs);
  }

  eventsOf(id: NodeId, kind: RaftEvent['kind']): RaftEvent[] {
    return this.get(id).events.filter((e) => e.kind === kind);
  }
}

/** Blocks every message between the two groups (both directions). */
export function partition(a: readonly NodeId[], b: readonly NodeId[]): Filter {
  return (m) => (a.includes(m.from) && b.includes(m.to)) || (b.includes(m.from) && a.includes(m.to));
}

export function isolate(id: NodeId): Filter {
  return (m) => m.from === id || m.to === id;
}

/** `<true ms> <node> <kind> k=v ...`, the transcript format of the core's tests. */
export function formatEvent(trueMs: number, id: NodeId, e: RaftEvent): string {
  const parts = Object.entries(e)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1000) / 1000 : String(v)}`);
  return `${trueMs} ${id} ${e.kind} ${parts.join(' ')}`.trimEnd();
}
