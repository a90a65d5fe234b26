// The chaos nemesis's state between faults (nemesis.ts runs them): the cluster, which members are
// in and which spares are used, seeded choices, and the bounded restart of a stopped member. Each
// fault is looked up in the table the state is built with, so that the fault files (nemesis.ts,
// nemesis-more.ts) import this one and not each other.
import type { Nemesis } from './args.ts';
import type { Cluster } from '../harness.ts';
import type { Settings } from '../../../testkit/cluster.ts';
import type { PrivateDisks } from './disks.ts';
import type { StatusView } from '../../../testkit/status.ts';
import { waitFor } from '../../../testkit/wait.ts';

export interface FaultEvent {
  /** The fault's sequence number in this run: a start and its end share it. */
  readonly n: number;
  readonly atUs: number;
  /** The same instant as wall-clock ms (Date.now()), to line up with the nodes' logs. */
  readonly wallMs: number;
  readonly kind: Nemesis;
  /** finding: what the member did under the fault broke a rule (judge.ts: a `storage` finding). */
  readonly phase: 'start' | 'end' | 'error' | 'finding';
  readonly target: string;
  readonly detail: string;
}

export interface NemesisOptions {
  readonly cluster: Cluster;
  readonly mix: readonly Nemesis[];
  readonly rand: () => number;
  readonly endAtMs: number;
  /** Spare member ids (n4..), added by `member` in this order; each at most once. */
  readonly spares: readonly string[];
  readonly log: (e: FaultEvent) => void;
  /** Each member's data dir on a tmpfs of its own (the `disk` fault), when the mix has `disk`. */
  readonly disks: PrivateDisks | null;
  /** Where the `clock` fault writes a member's wall-clock offset (clock-offset.cjs), when the mix has it. */
  readonly clockDir: string | null;
  /** Extra `serve` flags per member, read at each start (the `upgrade` fault changes them). */
  readonly flags: Map<string, Settings>;
  /**
   * Reads the current keys at `id` right away, recorded in the history: called as a paused or cut
   * off member comes back, so that a read it answers from a lease that ran out meanwhile shows up
   * as a stale read the checker rejects (the new leader's writes returned before these calls).
   */
  readonly probe: (id: string) => Promise<void>;
  /**
   * These faults in this order, once each, instead of seeded picks from `mix` (the suite's short
   * run: each kind exercised whatever the seed draws and however slow the machine); all of them
   * run, also after endAtMs (each is bounded), so the clients may have stopped before the last.
   */
  readonly script?: readonly Nemesis[];
  /** Set to stop early (Ctrl-C): the fault in progress is still undone. */
  readonly stopped: () => boolean;
}

/** Bounds: a run has at most MAX_FAULTS faults, and no wait of the nemesis lasts longer. */
export const MAX_FAULTS = 10_000;
export const CHANGE_TIMEOUT_MS = 20_000;
const RESTART_TIMEOUT_MS = 60_000;

const nowUs = (): number => Math.round(performance.now() * 1000);

/** The state the nemesis keeps between faults. */
export class NemesisState {
  /** The spare currently a member (added and not yet removed). */
  activeSpare: string | null = null;
  /** Members removed for good (a corrupt data dir refused), and the spares that replaced them. */
  readonly removed = new Set<string>();
  readonly replacements: string[] = [];
  private nextSpare = 0;
  private seq = 0;

  constructor(
    private readonly o: NemesisOptions,
    private readonly faults: Readonly<Record<Nemesis, Fault>>,
  ) {}

  /** The members the nemesis may stop: the initial ones and an added spare. */
  members(): string[] {
    const c = this.o.cluster;
    const ids = [...c.ids, ...this.replacements].filter((id) => !this.removed.has(id));
    return this.activeSpare === null ? ids : [...ids, this.activeSpare];
  }

  get opts(): NemesisOptions {
    return this.o;
  }

  /** Logs a broken rule of the fault in progress (a `storage` finding). */
  finding: (detail: string) => void = () => undefined;

  /** The member that says LEADER with the highest term, if any answers (bounded: 1 s). */
  async leader(): Promise<string | undefined> {
    const c = this.o.cluster;
    const views = await Promise.all(
      this.members()
        .filter((id) => c.alive(id))
        .map((id) => c.status(id)),
    );
    const leaders = views
      .filter((v): v is StatusView => 'role' in v && v.role === 'LEADER')
      .sort((a, b) => b.term - a.term);
    return leaders[0]?.id;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.o.rand() * xs.length)] as T;
  }

  /** A seeded Fisher-Yates shuffle of a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.o.rand() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  between(loMs: number, hiMs: number): number {
    return Math.round(loMs + this.o.rand() * (hiMs - loMs));
  }

  /** The leader with probability `p` (if one is known), else a random running member. */
  async victim(p: number): Promise<string> {
    const leader = this.o.rand() < p ? await this.leader() : undefined;
    const live = this.members().filter((id) => this.o.cluster.alive(id));
    return leader ?? this.pick(live.length > 0 ? live : this.members());
  }

  /** Runs one fault of `kind` from start to undo, logging both ends (or the error). */
  async fault(kind: Nemesis): Promise<void> {
    const n = ++this.seq;
    const log = (phase: FaultEvent['phase'], target: string, detail: string): void =>
      this.o.log({ n, atUs: nowUs(), wallMs: Date.now(), kind, phase, target, detail });
    const outer = this.finding;
    this.finding = (detail) => log('finding', '', detail);
    try {
      await this.faults[kind](this, (target, detail) => log('start', target, detail));
      log('end', '', '');
    } catch (e) {
      log('error', '', (e as Error).message.slice(0, 2000));
    } finally {
      this.finding = outer;
    }
  }

  /**
   * Starts a stopped member again. An added spare gets its --join again, as an operator's unit
   * file would: killed before its first snapshot arrived, it has no identity yet, and `serve`
   * without --join refuses a data dir without one (found by seed 2, docs/chaos.md).
   */
  restart(id: string, expectExit = false): void {
    const c = this.o.cluster;
    // Removed meanwhile (a combo of kill and member): a removed id refuses to start.
    if (!this.members().includes(id)) return;
    if (c.ids.includes(id)) c.startNode(id, { expectExit });
    else c.startNode(id, { join: this.members().filter((m) => m !== id), expectExit });
  }

  /**
   * Restarts `id` and waits until its client port answers: a fault lasts until the node is back.
   * Under load a start takes 5-25 s here (tsx compiles the sources in each thread); without this
   * wait the next fault stopped a second member while the first was still starting (seed 13).
   */
  async restartAndWait(id: string): Promise<void> {
    this.restart(id);
    const c = this.o.cluster;
    if (!c.alive(id)) return;
    await waitFor(
      `${id} to serve again`,
      RESTART_TIMEOUT_MS,
      async () => ('role' in (await c.status(id)) ? true : undefined),
      {
        intervalMs: 100,
        hopeless: () => c.crashed(),
      },
    );
  }

  probe(id: string): Promise<void> {
    return this.o.probe(id);
  }

  get cluster(): Cluster {
    return this.o.cluster;
  }

  /** Takes the next spare, or null when all have been used (a removed id never comes back). */
  takeSpare(): string | null {
    const id = this.o.spares[this.nextSpare];
    if (id === undefined) return null;
    this.nextSpare++;
    return id;
  }
}

export type Start = (target: string, detail: string) => void;
export type Fault = (s: NemesisState, start: Start) => Promise<void>;
