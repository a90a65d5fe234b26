// Simulated watch clients (issue 14): logical watches on a key or a prefix, from the beginning or
// from "now", each served by one member's real watch hub at a time and read the way the server
// reads it (Watcher.pull until 'wait', then whenReady). Like the client library (docs/api.md,
// "Resumable"), a watch whose stream ends — its member crashed (WatcherClosedError), installed a
// snapshot past it or no longer holds its revision (CompactedError) — or that the client drops now
// and then (a disconnect, a member cut off) resumes on another member from the revision after the
// last one it saw; when members keep answering "compacted" it starts again from "now". Every batch
// goes to the watch oracle (oracles-watch.ts). Watches only read: they draw from their own random
// stream and never touch the cluster, so a seed's run is the same with or without them.
import type { NodeId } from '../raft/types.ts';
import { CompactedError } from '../kv/watch-hub.ts';
import type { Watcher, WatchRequest } from '../kv/watch-hub.ts';
import type { WatchOracle, WatchView } from './oracles-watch.ts';
import type { Prng } from './prng.ts';
import type { SimNode } from './node.ts';

export interface WatchWorld {
  readonly nowUs: number;
  after(us: number, fn: () => void): void;
  /** Members that may run (clients may pick one that is down: it refuses, and they try another). */
  nodes(): readonly NodeId[];
  node(id: NodeId): SimNode;
  trace(what: () => string): void;
}

interface LiveWatch {
  readonly view: WatchView;
  stream: { node: NodeId; w: Watcher; gen: number } | null;
  gen: number;
  /** Members that answered "compacted" in a row. */
  compactedTries: number;
}

const FILTERS: readonly Omit<WatchRequest, 'startRevision' | 'prevKv'>[] = [
  { key: 'k0', prefix: false },
  { key: 'k', prefix: true },
  { key: '', prefix: true },
  { key: 't', prefix: true },
  { key: 'k1', prefix: false },
];

export class SimWatchers {
  private readonly watches: LiveWatch[] = [];
  private stopped = false;

  constructor(
    private readonly rng: Prng,
    private readonly world: WatchWorld,
    private readonly oracle: WatchOracle,
    /** True time (µs) of the end of the fault phase: watches stop dropping streams on purpose then. */
    private readonly faultPhaseEndUs: number,
  ) {}

  start(): void {
    const n = this.rng.int(2, 5);
    for (let i = 0; i < n; i++) {
      const f = this.rng.pick(FILTERS);
      const fromStart = this.rng.chance(0.5);
      const view: WatchView = {
        id: i,
        req: { ...f, prevKv: this.rng.chance(0.5) },
        covered: fromStart ? 0 : null,
        streamProgress: 0,
        streamEvents: 0,
      };
      const lw: LiveWatch = { view, stream: null, gen: 0, compactedTries: 0 };
      this.watches.push(lw);
      this.world.after(this.rng.int(1, 3_000_000), () => this.open(lw));
    }
  }

  /** The end of the run: cancel every stream. */
  stop(): void {
    this.stopped = true;
    for (const lw of this.watches) lw.stream?.w.cancel();
  }

  private open(lw: LiveWatch): void {
    if (this.stopped || lw.stream !== null) return;
    const id = this.rng.pick(this.world.nodes());
    const hub = this.world.node(id).hub;
    const v = lw.view;
    if (hub === null) return this.retry(lw);
    let w: Watcher;
    try {
      w = hub.watch({ ...v.req, startRevision: v.covered === null ? 0 : v.covered + 1 });
    } catch (err) {
      if (err instanceof CompactedError) return this.compacted(lw, id, err);
      throw err;
    }
    this.oracle.resumes++;
    lw.stream = { node: id, w, gen: ++lw.gen };
    v.streamProgress = 0;
    v.streamEvents = 0;
    this.world.trace(() => `watch ${v.id} opened on ${id} from revision ${v.covered === null ? 'now' : v.covered + 1}`);
    this.pump(lw);
    // Now and then the client drops the stream (a disconnect, or it gave up on a lagging member).
    if (this.world.nowUs < this.faultPhaseEndUs && this.rng.chance(0.5)) {
      const gen = lw.gen;
      this.world.after(this.rng.int(200_000, 3_000_000), () => {
        if (lw.stream?.gen !== gen) return;
        lw.stream.w.cancel();
        lw.stream = null;
        this.world.trace(() => `watch ${v.id} dropped its stream to ${id}; resuming elsewhere`);
        this.retry(lw);
      });
    }
  }

  private pump(lw: LiveWatch): void {
    const s = lw.stream;
    if (s === null) return;
    for (;;) {
      let b;
      try {
        b = s.w.pull();
      } catch (err) {
        lw.stream = null;
        if (err instanceof CompactedError) return this.compacted(lw, s.node, err);
        this.world.trace(() => `watch ${lw.view.id} on ${s.node} ended: ${(err as Error).message}`);
        return this.retry(lw);
      }
      if (b === 'end') return;
      if (b === 'wait') {
        // Read on a later turn, as the server's stream writer does (never inside the apply).
        s.w.whenReady(() => this.world.after(0, () => lw.stream?.gen === s.gen && this.pump(lw)));
        return;
      }
      this.oracle.onBatch(lw.view, s.node, b);
      lw.compactedTries = 0;
    }
  }

  private compacted(lw: LiveWatch, node: NodeId, err: CompactedError): void {
    this.world.trace(() => `watch ${lw.view.id} on ${node}: ${err.message}`);
    if (++lw.compactedTries >= 4) {
      // Every member tried says "compacted": the client re-reads and watches from now.
      lw.view.covered = null;
      lw.compactedTries = 0;
    }
    this.retry(lw);
  }

  private retry(lw: LiveWatch): void {
    if (this.stopped) return;
    this.world.after(this.rng.int(1_000, 300_000), () => this.open(lw));
  }
}
