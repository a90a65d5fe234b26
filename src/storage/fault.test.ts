// Seeded fault test over FaultyFs (issue 4): random appends, syncs, snapshots (installed, saved in
// one step, or written beside the WAL and adopted later with appends and syncs between — issue 13),
// compactions and crashes (between and inside operations, with torn tails), plus bit flips. Invariants:
// - after every crash, the reopened state is one the WAL passed through since its last
//   acknowledged sync — so every acknowledged record is there (unless a later write replaced it);
// - a bit flipped anywhere but the last record of the last segment makes Wal.open refuse to start
//   with StorageCorruptError; a torn tail is repaired and reported;
// - after every open, every segment but the last is sealed (a crash inside a rotation can leave
//   one unsealed, or its seal torn: open seals it; wal-seal.test.ts crashes at each call of one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';
import { StorageCorruptError } from './errors.ts';
import { FaultyFs, mulberry32, SimulatedCrash } from './faulty_fs.ts';
import { scanFrames } from './frame.ts';
import { RecordType } from './records.ts';
import { SNAPSHOT_FILE, SNAPSHOT_SAVE_TEMP_FILE, writeSnapshotTempFile } from './snapshot_file.ts';
import { Wal, type WalState } from './wal.ts';

const DIR = '/node';
const OPTS = { segmentSizeBytes: 1024 };
const SEEDS = 200;
const STEPS = 120;

/** An independent model of the log: full entries above (base, baseTerm), plus hard state and snapshot. */
interface Model {
  readonly base: number;
  readonly baseTerm: number;
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
}
type Op =
  { k: 'trunc'; from: number } | { k: 'entry'; e: Entry } | { k: 'hs'; h: HardState } | { k: 'snap'; m: SnapshotMeta };

function last(m: Model): number {
  return m.base + m.entries.length;
}
function termAt(m: Model, i: number): number | undefined {
  return i === m.base ? m.baseTerm : m.entries[i - m.base - 1]?.term;
}
function applyOp(m: Model, op: Op): Model {
  switch (op.k) {
    case 'trunc':
      return { ...m, entries: m.entries.slice(0, op.from - m.base - 1) };
    case 'entry':
      return { ...m, entries: [...m.entries, op.e] };
    case 'hs':
      return { ...m, hardState: op.h };
    case 'snap': {
      const keep = termAt(m, op.m.index) === op.m.term ? m.entries.slice(op.m.index - m.base) : [];
      return { ...m, base: op.m.index, baseTerm: op.m.term, entries: keep, snapshot: op.m };
    }
  }
}
function view(m: Model): string {
  const es = m.entries.map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString('hex')}`).join(',');
  const h = m.hardState;
  const s = m.snapshot;
  return JSON.stringify([h.term, h.votedFor, h.commit, s === null ? null : [s.index, s.term, s.confState.voters], es]);
}
function fromState(s: WalState): Model {
  const base = s.snapshot?.index ?? 0;
  return { base, baseTerm: s.snapshot?.term ?? 0, entries: s.entries, hardState: s.hardState, snapshot: s.snapshot };
}

interface Tally {
  crashes: number;
  midOpCrashes: number;
  repairs: number;
  refusals: number;
  lostUnsynced: number;
  /** Snapshots written beside the WAL, and those adopted (put in place) later. */
  sideWrites: number;
  adopts: number;
}

function runSeed(seed: number, t: Tally): void {
  const rnd = mulberry32(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const fs = new FaultyFs({ random: mulberry32(seed ^ 0x5eed), tornWriteProbability: 0.9 });
  let wal = Wal.open(fs, DIR, OPTS).wal;
  let acked: Model = {
    base: 0,
    baseTerm: 0,
    entries: [],
    hardState: { term: 0, votedFor: null, commit: 0 },
    snapshot: null,
  };
  let cur = acked;
  let pending: Op[] = [];
  let term = 1;
  /** A snapshot file written beside the WAL, not yet adopted: invisible to recovery until then. */
  let side: SnapshotMeta | null = null;
  const doOp = (op: Op): void => {
    pending.push(op);
    cur = applyOp(cur, op);
  };
  for (let step = 0; step < STEPS; step++) {
    const r = rnd();
    try {
      if (r < 0.1 || (r >= 0.55 && r < 0.65)) fs.crashAfter(pick(3)); // the crash lands inside one of the next operations
      if (r < 0.55) {
        if (rnd() < 0.2) term++;
        const start = cur.base + 1 + (rnd() < 0.2 ? pick(last(cur) - cur.base + 1) : last(cur) - cur.base);
        const es: Entry[] = Array.from({ length: pick(4) }, (_, k) => ({
          index: start + k,
          term,
          type: 0,
          data: Uint8Array.from({ length: pick(120) }, () => pick(256)),
        }));
        const hs =
          rnd() < 0.5 ? { term, votedFor: rnd() < 0.5 ? null : `n${pick(3)}`, commit: pick(last(cur) + 1) } : null;
        // Model first: a crash inside append (say, in a rotation) may leave a prefix of its records.
        if (es[0] !== undefined && es[0].index <= last(cur)) doOp({ k: 'trunc', from: es[0].index });
        for (const e of es) doOp({ k: 'entry', e });
        if (hs !== null) doOp({ k: 'hs', h: hs });
        wal.append(es, hs);
      } else if (r < 0.8) {
        if (side !== null && rnd() < 0.5) {
          const m = side;
          side = null;
          // Adopting one that an install has since passed keeps the installed one.
          if (cur.snapshot === null || m.index > cur.snapshot.index) doOp({ k: 'snap', m });
          wal.adoptSnapshotFile(m);
          t.adopts++;
        }
        wal.sync(); // as applyBatch does after every batch (an adopt that was skipped syncs nothing)
        ({ acked, pending } = { acked: cur, pending: [] });
      } else if (r < 0.9 && last(cur) > cur.base) {
        const install = rnd() < 0.2;
        const index = install ? last(cur) + pick(3) : cur.base + 1 + pick(last(cur) - cur.base);
        const m: SnapshotMeta = {
          index,
          term: install ? term : termAt(cur, index)!,
          confState: { voters: ['n0', 'n1', 'n2'], learners: [] },
        };
        const data = Uint8Array.of(seed & 0xff, index & 0xff);
        if (!install && side === null && rnd() < 0.5) {
          writeSnapshotTempFile(fs, `${DIR}/${SNAPSHOT_SAVE_TEMP_FILE}`, m, data);
          side = m;
          t.sideWrites++;
        } else {
          doOp({ k: 'snap', m });
          wal.saveSnapshot(m, data);
          ({ acked, pending } = { acked: cur, pending: [] });
        }
      } else if (r < 0.95 && cur.snapshot !== null) {
        wal.compact(cur.snapshot.index);
        ({ acked, pending } = { acked: cur, pending: [] });
      } else {
        throw new SimulatedCrash();
      }
      fs.crashAfter(-1);
    } catch (e) {
      if (!(e instanceof SimulatedCrash)) throw e;
      if (r < 0.1 || (r >= 0.55 && r < 0.65)) t.midOpCrashes++;
      t.crashes++;
      fs.crash();
      side = null; // Wal.open deletes the temp file
      // Candidates: the acknowledged state plus any prefix of the records written after it.
      const candidates = [acked];
      for (const op of pending) candidates.push(applyOp(candidates[candidates.length - 1]!, op));
      if (rnd() < 0.15 && flipNonTail(fs, pick)) {
        assert.throws(() => Wal.open(fs, DIR, OPTS), StorageCorruptError, `seed ${seed}: flipped bit accepted`);
        t.refusals++;
        return; // this node is wiped and rejoins from its peers
      }
      const opened = Wal.open(fs, DIR, OPTS);
      if (opened.repaired !== null) t.repairs++;
      // Open seals what a crash at a rotation left unsealed: every segment but the last is sealed.
      assert.deepEqual(unsealedSegments(fs), [], `seed ${seed} step ${step}: a segment left unsealed by open`);
      const got = view(fromState(opened.state));
      const k = candidates.findIndex((c) => view(c) === got);
      assert.ok(
        k >= 0,
        `seed ${seed} step ${step}: recovered state is not one the WAL passed through since its last ack\n got ${got}\n acked ${view(acked)}`,
      );
      if (k < candidates.length - 1) t.lostUnsynced++;
      wal = opened.wal;
      acked = cur = candidates[k]!;
      pending = [];
      term = Math.max(term, cur.hardState.term, ...cur.entries.map((x) => x.term), cur.baseTerm);
    }
  }
}

/** Segments other than the last whose last complete record is not a seal (segment_seal.ts). */
function unsealedSegments(fs: FaultyFs): string[] {
  const segs = fs.list(DIR).filter((f) => f.endsWith('.wal'));
  return segs
    .slice(0, -1)
    .filter((f) => scanFrames(fs.readFile(`${DIR}/${f}`)).frames.at(-1)?.type !== RecordType.Seal);
}

/** Flips one bit somewhere other than the last record of the last segment; false if there is no such byte. */
function flipNonTail(fs: FaultyFs, pick: (n: number) => number): boolean {
  const files = fs.list(DIR).filter((f) => f.endsWith('.wal') || f === SNAPSHOT_FILE);
  const segs = files.filter((f) => f.endsWith('.wal'));
  const lastSeg = segs[segs.length - 1];
  const ranges = files.map((f) => {
    if (f !== lastSeg) return { f, n: fs.size(`${DIR}/${f}`) };
    const frames = scanFrames(fs.readFile(`${DIR}/${f}`)).frames;
    return { f, n: frames.length > 0 ? frames[frames.length - 1]!.offset : 0 };
  });
  const usable = ranges.filter((x) => x.n > 0);
  const target = usable[pick(usable.length)];
  if (target === undefined) return false;
  fs.flipBit(`${DIR}/${target.f}`, pick(target.n * 8));
  return true;
}

test(`seeded crashes over FaultyFs never lose an acknowledged record (${SEEDS} seeds)`, () => {
  const t: Tally = {
    crashes: 0,
    midOpCrashes: 0,
    repairs: 0,
    refusals: 0,
    lostUnsynced: 0,
    sideWrites: 0,
    adopts: 0,
  };
  for (let seed = 1; seed <= SEEDS; seed++) runSeed(seed, t);
  // The run must actually have exercised every path it claims to check.
  assert.ok(t.crashes > 200 && t.midOpCrashes > 50, JSON.stringify(t));
  assert.ok(t.repairs > 20 && t.refusals > 20 && t.lostUnsynced > 20, JSON.stringify(t));
  assert.ok(t.sideWrites > 100 && t.adopts > 50, JSON.stringify(t));
  console.log(`fault tally: ${JSON.stringify(t)}`);
});
