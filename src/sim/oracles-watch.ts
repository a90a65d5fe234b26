// The watch oracle (issue 14): what every simulated watch stream delivers is checked against the
// committed change history, as the batches come out of the real watch hub (src/kv/watch-hub.ts).
// The guarantees are etcd's, stated in docs/api.md ("Watch"):
// - ordered and no duplicates: within a logical watch (all its streams, across resumes on other
//   members), event batches come in strictly increasing revision order, each after everything the
//   watch already covered (events or progress);
// - no gaps: no committed revision between what was covered and a new batch (or a progress
//   notification's revision) has a matching event the watch did not get;
// - atomic, values: a batch holds exactly the matching events of its revision, in the order the
//   command made them, with the committed key, value, create/mod revision, version, type, and the
//   previous key-value iff asked for (equal to the committed one);
// - progress notifications are monotonic within a stream and never behind an event it delivered.
// The committed history is each revision's events as the first node applied them (revisions follow
// the log, so every replica makes the same; state machine safety is checked elsewhere).
import type { ChangeEvent, KeyValue } from '../kv/machine.ts';
import type { WatchBatch, WatchRequest } from '../kv/watch-hub.ts';
import type { NodeId } from '../raft/types.ts';

/** One logical watch as its client sees it: resumed on other members from the revision after `covered`. */
export interface WatchView {
  readonly id: number;
  readonly req: Omit<WatchRequest, 'startRevision'>;
  /** Every matching change up to this revision was delivered (null: not known yet, a watch from "now"). */
  covered: number | null;
  /** The current stream's last progress revision and last event revision (per stream). */
  streamProgress: number;
  streamEvents: number;
}

export class WatchOracle {
  /** revision → its events as first applied anywhere (= committed). */
  private readonly history = new Map<number, readonly ChangeEvent[]>();
  batches = 0;
  events = 0;
  resumes = 0;

  constructor(private readonly violation: (what: string) => void) {}

  onChanges(revision: number, events: readonly ChangeEvent[]): void {
    if (!this.history.has(revision)) this.history.set(revision, events);
  }

  /** A stream of `w` on `node` delivered `b`. */
  onBatch(w: WatchView, node: NodeId, b: WatchBatch): void {
    this.batches++;
    const where = `watch ${w.id} (${w.req.prefix ? 'prefix' : 'key'} "${w.req.key}") on ${node}`;
    const fail = (what: string): void => this.violation(`watch: ${where}: ${what}`);
    if (b.events.length === 0) {
      if (b.revision < w.streamProgress || b.revision < w.streamEvents)
        return fail(
          `progress notification at revision ${b.revision} after progress ${w.streamProgress} / events at ${w.streamEvents} on the same stream`,
        );
      w.streamProgress = b.revision;
      if (w.covered === null) {
        w.covered = b.revision;
        return;
      }
      if (b.revision <= w.covered) return; // a lagging member: says less than is already known
      if (!this.noGap(w, w.covered, b.revision + 1, `a progress notification at revision ${b.revision}`, fail)) return;
      w.covered = b.revision;
      return;
    }
    this.events += b.events.length;
    if (w.covered === null) return fail(`events at revision ${b.revision} before the first progress notification`);
    if (b.revision <= w.covered)
      return fail(
        `events at revision ${b.revision}, but revision ${w.covered} was already covered (a duplicate or out of order)`,
      );
    if (!this.noGap(w, w.covered, b.revision, `events at revision ${b.revision}`, fail)) return;
    const want = this.matching(w, b.revision);
    if (want === null) return fail(`events at revision ${b.revision}, which no node applied yet`);
    if (want.length !== b.events.length)
      return fail(
        `revision ${b.revision} delivered ${b.events.length} event(s), the committed revision has ${want.length} matching (not atomic)`,
      );
    for (let i = 0; i < want.length; i++) {
      const diff = eventDiff(want[i]!, b.events[i]!, w.req.prevKv, b.revision);
      if (diff !== null) return fail(`revision ${b.revision} event ${i}: ${diff}`);
    }
    w.covered = b.revision;
    w.streamEvents = b.revision;
  }

  /** No committed revision in (from, to) has a matching event. */
  private noGap(w: WatchView, from: number, to: number, then: string, fail: (what: string) => void): boolean {
    for (let r = from + 1; r < to; r++) {
      const m = this.matching(w, r);
      if (m !== null && m.length > 0) {
        fail(
          `missed revision ${r} (${m.map((e) => `${e.type} ${e.kv.key}`).join(', ')}): covered up to ${from}, then ${then}`,
        );
        return false;
      }
    }
    return true;
  }

  private matching(w: WatchView, revision: number): ChangeEvent[] | null {
    const all = this.history.get(revision);
    if (all === undefined) return null;
    const { key, prefix } = w.req;
    return all.filter((e) => (prefix ? e.kv.key.startsWith(key) : e.kv.key === key));
  }
}

function kvDiff(want: KeyValue, got: KeyValue): string | null {
  for (const f of ['key', 'value', 'create', 'mod', 'version'] as const)
    if (want[f] !== got[f]) return `${f} ${String(got[f])}, committed ${String(want[f])}`;
  return null;
}

function eventDiff(want: ChangeEvent, got: ChangeEvent, prevKv: boolean, revision: number): string | null {
  if (want.type !== got.type) return `type ${got.type}, committed ${want.type}`;
  if (got.kv.mod !== revision) return `mod revision ${got.kv.mod} in the batch of revision ${revision}`;
  const d = kvDiff(want.kv, got.kv);
  if (d !== null) return d;
  if (!prevKv || want.prev === undefined)
    return got.prev === undefined ? null : `a previous key-value that was ${prevKv ? 'absent' : 'not asked for'}`;
  if (got.prev === undefined) return 'no previous key-value (asked for, and the key existed)';
  const p = kvDiff(want.prev, got.prev);
  return p === null ? null : `previous key-value: ${p}`;
}
