// Safety oracles, checked as the run goes (issue 2 §4): election safety, log matching, leader
// completeness, state machine safety, lease exclusivity in true time, no stale read, and
// exactly-once (every write applied at most once however often its client retried it).
// Each check records a human-readable violation; the cluster stops the run at the first one.
import { Buffer } from 'node:buffer';
import type { Entry, NodeId } from '../raft/types.ts';
import { EntryType } from '../raft/types.ts';
import { decodeCommand } from '../kv/command.ts';
import type { ApplyResult } from '../kv/machine.ts';
import type { MemStorage } from './storage.ts';

interface AppliedRecord {
  readonly term: number;
  /** The entry's type and bytes (compared across nodes). */
  readonly data: string;
  readonly put: { readonly key: string; readonly value: string } | null;
  readonly node: NodeId;
}

/** Decoded once per entry object (in the simulator one object travels to every node). */
const decoded = new WeakMap<Entry, { put: { key: string; value: string } | null; data: string }>();

function decode(e: Entry): { put: { key: string; value: string } | null; data: string } {
  let d = decoded.get(e);
  if (d === undefined) {
    let put: { key: string; value: string } | null = null;
    if (e.type === EntryType.Normal) {
      try {
        const c = decodeCommand(e.data);
        if (c.op === 'put') put = { key: c.key, value: c.value };
      } catch {
        put = null;
      }
    }
    d = { put, data: `${e.type}:${Buffer.from(e.data).toString('latin1')}` };
    decoded.set(e, d);
  }
  return d;
}

/** The put an entry carries, if any (the simulated clients only write puts). */
export function putOf(e: Entry): { key: string; value: string } | null {
  return decode(e).put;
}

export class Oracles {
  readonly violations: string[] = [];
  private leaderOfTerm = new Map<number, NodeId>();
  /** Every index applied anywhere (= committed), with what was applied there first. */
  private applied = new Map<number, AppliedRecord>();
  /**
   * key → acknowledged writes in acknowledgement order (true time never goes back), with the
   * running maximum of their revisions, so "newest write acked before t" is a binary search.
   */
  private acked = new Map<string, { maxRevision: number; atUs: number }[]>();
  /** revision → the put that made it (revisions follow the log: the same on every replica). */
  private byRevision = new Map<number, { key: string; value: string; node: NodeId }>();
  /** node → value → the index at which that node's state machine applied the write (exactly-once). */
  private effective = new Map<NodeId, Map<string, number>>();
  private produced = new Set<string>();
  /** Every write acknowledged to a client: the no-lost-write check at the end of the run. */
  private ackedWrites: { key: string; value: string; index: number }[] = [];
  private maxApplied: { index: number; node: NodeId } = { index: 0, node: '' };

  constructor(private readonly storages: ReadonlyMap<NodeId, MemStorage>) {}

  get failed(): boolean {
    return this.violations.length > 0;
  }

  violation(what: string): void {
    if (this.violations.length < 20) this.violations.push(what);
  }

  /** Election safety (Raft Fig. 3) and leader completeness (§5.4) when `node` becomes leader. */
  onLeader(node: NodeId, term: number): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== node)
      this.violation(`election safety: ${prev} and ${node} both leader in term ${term}`);
    this.leaderOfTerm.set(term, node);
    const log = this.storages.get(node)!;
    const from = log.snapshotIndex() + 1;
    for (const [index, rec] of this.applied) {
      if (index < from || rec.term >= term) continue;
      const t = log.termAt(index);
      if (t !== rec.term) {
        this.violation(
          `leader completeness: ${node} leader of term ${term} has term ${t ?? 'none'} at committed index ${index} (term ${rec.term})`,
        );
        return;
      }
    }
  }

  /** Log matching (§5.3), checked incrementally for every entry a node writes. */
  onWrite(node: NodeId, entries: readonly Entry[]): void {
    for (const e of entries) {
      for (const [other, log] of this.storages) {
        if (other === node) continue;
        const o = log.entry(e.index);
        if (o === undefined || o.term !== e.term) continue;
        if (!sameData(o, e)) {
          this.violation(
            `log matching: ${node} and ${other} hold different entries with index ${e.index} term ${e.term}`,
          );
          return;
        }
        const mine = this.storages.get(node)!.termAt(e.index - 1);
        const theirs = log.termAt(e.index - 1);
        if (mine !== undefined && theirs !== undefined && mine !== theirs) {
          this.violation(
            `log matching: ${node} and ${other} agree at ${e.index}/${e.term} but differ at ${e.index - 1} (${mine} vs ${theirs})`,
          );
          return;
        }
      }
    }
  }

  /**
   * State machine safety (§5.4.3): no two nodes apply different entries at one index. Exactly-once:
   * a write (its value is unique; retries carry the same session and value) changes a node's state
   * at one index only — a second effective application is a retry applied twice.
   */
  onApply(node: NodeId, e: Entry, result: ApplyResult | null = null, effective = false): void {
    const { put, data } = decode(e);
    if (e.index > this.maxApplied.index) this.maxApplied = { index: e.index, node };
    const prev = this.applied.get(e.index);
    if (prev === undefined) this.applied.set(e.index, { term: e.term, data, put, node });
    else if (prev.term !== e.term || prev.data !== data) {
      this.violation(
        `state machine safety: at index ${e.index} ${prev.node} applied term ${prev.term} but ${node} applied term ${e.term}`,
      );
      return;
    }
    if (put === null || !effective || result?.op !== 'put') return;
    let mine = this.effective.get(node);
    if (mine === undefined) this.effective.set(node, (mine = new Map()));
    const at = mine.get(put.value);
    if (at !== undefined && at !== e.index) {
      this.violation(
        `exactly-once: ${node} applied the write ${put.key}=${put.value} twice, at index ${at} and again at ${e.index} (a retry with the same session)`,
      );
      return;
    }
    mine.set(put.value, e.index);
    const r = this.byRevision.get(result.revision);
    if (r === undefined) this.byRevision.set(result.revision, { ...put, node });
    else if (r.key !== put.key || r.value !== put.value)
      this.violation(
        `state machine safety: revision ${result.revision} is ${r.key}=${r.value} at ${r.node} but ${put.key}=${put.value} at ${node}`,
      );
  }

  /** Lease exclusivity in true time: `holders` are the nodes whose lease is valid right now. */
  checkLeases(holders: readonly NodeId[], nowUs: number): void {
    if (holders.length > 1)
      this.violation(`lease exclusivity: ${holders.join(' and ')} hold valid leases at true time ${fmtUs(nowUs)}`);
  }

  /**
   * Lease read freshness: a lease read is linearized at the instant it is served, and a node with a
   * valid lease is the only one that can have committed anything in a newer term... so the commit
   * index it serves at covers every entry committed (applied anywhere) before that instant. Stricter
   * than the client-visible stale-read check: it needs no acknowledged write to expose an old leader.
   */
  checkLeaseRead(node: NodeId, commitIndex: number, nowUs: number): void {
    const m = this.maxApplied;
    if (m.index > commitIndex) {
      this.violation(
        `stale lease read: ${node} served a lease read at commit index ${commitIndex} at true time ${fmtUs(nowUs)}, but index ${m.index} was already applied at ${m.node}`,
      );
    }
  }

  onProposed(value: string): void {
    this.produced.add(value);
  }

  onWriteAcked(key: string, index: number, revision: number, atUs: number, value: string): void {
    this.ackedWrites.push({ key, value, index });
    let list = this.acked.get(key);
    if (list === undefined) this.acked.set(key, (list = []));
    const prev = list[list.length - 1];
    if (prev !== undefined && prev.atUs > atUs) throw new Error('sim oracle: acknowledgements out of time order');
    list.push({ maxRevision: Math.max(revision, prev?.maxRevision ?? 0), atUs });
  }

  /**
   * No acknowledged write lost (issue 4), checked once the liveness phase has a leader, i.e. after
   * every crash, torn tail and restart: the leader's log still holds every acknowledged write at
   * its index (or its snapshot covers that index, and then what was applied there is the write).
   */
  checkAckedWritesKept(leader: NodeId): void {
    const log = this.storages.get(leader)!;
    for (const w of this.ackedWrites) {
      const lost = (why: string): void =>
        this.violation(`lost write: ${w.key}=${w.value} acknowledged at index ${w.index}, but leader ${leader} ${why}`);
      if (w.index > log.lastIndex()) return lost(`has only ${log.lastIndex()} entries`);
      if (w.index <= log.snapshotIndex()) {
        const rec = this.applied.get(w.index)?.put;
        if (rec?.key !== w.key || rec.value !== w.value)
          return lost(
            `has a snapshot over index ${w.index}, where ${rec?.key ?? '?'}=${rec?.value ?? '?'} was applied`,
          );
        continue;
      }
      const e = log.entry(w.index);
      const cmd = e === undefined ? null : putOf(e);
      if (cmd?.key !== w.key || cmd.value !== w.value)
        return lost(`holds ${cmd === null ? 'no put' : `${cmd.key}=${cmd.value}`} at that index`);
    }
  }

  /**
   * No stale read: the version read (its mod revision; 0 = absent) is at least as new as every
   * write to `key` acknowledged before the read was issued, and was produced by a write.
   */
  checkRead(client: number, key: string, callUs: number, revision: number, value: string | null, via: string): void {
    const list = this.acked.get(key) ?? [];
    // The last acknowledgement strictly before callUs.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.atUs < callUs) lo = mid + 1;
      else hi = mid;
    }
    const need = lo === 0 ? 0 : list[lo - 1]!.maxRevision;
    if (revision < need) {
      this.violation(
        `stale read: client ${client} read ${key}=${value ?? '(absent)'} (revision ${revision}) via ${via}, issued at ${fmtUs(callUs)}, but the write of revision ${need} was acknowledged before`,
      );
      return;
    }
    if (value !== null && !this.produced.has(value))
      this.violation(`read of a value no write produced: ${key}=${value}`);
    if (revision > 0) {
      const rec = this.byRevision.get(revision);
      if (rec !== undefined && (rec.key !== key || rec.value !== value)) {
        this.violation(
          `read ${key}=${value ?? '(absent)'} claims revision ${revision}, which is ${rec.key}=${rec.value}`,
        );
      }
    }
  }
}

function sameData(a: Entry, b: Entry): boolean {
  if (a.type !== b.type || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export function fmtUs(us: number): string {
  return `${(us / 1000).toFixed(3)}ms`;
}
