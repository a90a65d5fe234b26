// The simulator on the real WAL over FaultyFs (issue 4): the storage adapter round-trips through a
// crash, a bit flip makes the node refuse to start, the oracles for silent corruption and lost
// writes have teeth, and a swarm of seeds with torn tails and bit flips shows no violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../raft/types.ts';
import type { Entry } from '../raft/types.ts';
import { encodeCommand } from '../kv/command.ts';
import { Oracles } from './oracles.ts';
import { Prng } from './prng.ts';
import { simulateSeed } from './run.ts';
import { WalStorage } from './wal-storage.ts';

function put(index: number, term: number, value: string): Entry {
  return { index, term, type: EntryType.Normal, data: encodeCommand({ op: 'put', key: 'k', value }) };
}

function freshStorage(seed: number): WalStorage {
  const rng = new Prng(seed);
  const s = new WalStorage(['n1', 'n2', 'n3'], () => rng.next());
  assert.equal(s.open().kind, 'ok');
  return s;
}

test('wal storage: synced state survives a crash, unsynced writes do not (or only as a prefix)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const s = freshStorage(seed);
    s.append([put(1, 1, 'a'), put(2, 1, 'b')]);
    s.setHardState({ term: 1, votedFor: 'n2', commit: 2 });
    s.sync();
    s.append([put(3, 1, 'c'), put(4, 1, 'd')]);
    s.crash();
    assert.equal(s.open().kind, 'ok');
    const st = s.durableState;
    assert.deepEqual(st.hardState, { term: 1, votedFor: 'n2', commit: 2 });
    assert.ok(st.entries.length >= 2 && st.entries.length <= 4, `seed ${seed}: ${st.entries.length} entries`);
    st.entries.forEach((e, i) => assert.equal(e.index, i + 1));
  }
});

test('wal storage: a snapshot (local compaction) is restored with its state machine', () => {
  const s = freshStorage(3);
  const entries = Array.from({ length: 200 }, (_, i) => put(i + 1, 1, `v${i + 1}`));
  s.append(entries);
  s.sync();
  s.compact({
    meta: { index: 150, term: 1, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } },
    data: new TextEncoder().encode('state at 150'),
  });
  s.sync(); // its write+fsync batch (disk.ts): until then a crash may lose it
  s.crash();
  assert.equal(s.open().kind, 'ok');
  assert.equal(s.durableState.snapshot?.meta.index, 150);
  assert.equal(new TextDecoder().decode(s.durableState.snapshot?.data), 'state at 150');
  assert.equal(s.durableState.entries[0]?.index, 151);
  assert.equal(s.lastIndex(), 200);
});

test('wal storage: a bit flip in synced data makes the node refuse to start, for good', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const s = freshStorage(seed);
    s.append(Array.from({ length: 40 }, (_, i) => put(i + 1, 1, `value-${i + 1}`)));
    s.setHardState({ term: 1, votedFor: null, commit: 40 });
    s.sync();
    s.crash();
    assert.notEqual(s.flipRandomBit(), null);
    const out = s.open();
    assert.equal(out.kind, 'refused', `seed ${seed}`);
    assert.equal(s.open().kind, 'refused');
  }
});

test('oracle teeth: a start after a recorded flip that the WAL could not see is reported as silent', () => {
  // Flipping the same bit twice restores the bytes, so Wal.open accepts them: exactly what a WAL
  // that skipped its checksums would do. The oracle knows a flip happened and must say so.
  const rng = new Prng(9);
  const s = new WalStorage(['n1'], () => rng.next());
  s.open();
  s.append([put(1, 1, 'a')]);
  s.sync();
  s.crash();
  const where = s.flipRandomBit()!;
  const m = /^(.*) bit (\d+)$/.exec(where)!;
  (s as unknown as { fs: { flipBit(p: string, b: number): void } }).fs.flipBit(m[1]!, Number(m[2]));
  const out = s.open();
  assert.equal(out.kind, 'ok');
  assert.match(out.kind === 'ok' ? (out.silentCorruption ?? '') : '', /was flipped, yet Wal.open accepted/);
});

test('oracle teeth: an acknowledged write missing from the leader log is a lost write', () => {
  const rng = new Prng(1);
  const s = new WalStorage(['n1'], () => rng.next());
  s.open();
  s.append([put(1, 1, 'a'), put(2, 1, 'other')]);
  const o = new Oracles(new Map([['n1', s]]));
  o.onWriteAcked('k', 1, 1, 10, 'a');
  o.checkAckedWritesKept('n1');
  assert.equal(o.failed, false);
  o.onWriteAcked('k', 2, 2, 20, 'b');
  o.checkAckedWritesKept('n1');
  assert.match(o.violations[0] ?? '', /lost write: k=b acknowledged at index 2/);
  o.onWriteAcked('k', 3, 3, 30, 'c');
  const o2 = new Oracles(new Map([['n1', s]]));
  o2.onWriteAcked('k', 3, 3, 30, 'c');
  o2.checkAckedWritesKept('n1');
  assert.match(o2.violations[0] ?? '', /has only 2 entries/);
});

test('swarm on the real WAL: crashes mid-write recover, bit-flipped nodes refuse, no violation', () => {
  const failures: string[] = [];
  const sum = { seeds: 0, repairs: 0, bitFlips: 0, refusals: 0, crashesMidWrite: 0 };
  const covered = (): boolean => sum.seeds >= 20 && sum.crashesMidWrite >= 8 && sum.bitFlips >= 4 && sum.refusals >= 4;
  // At least 80 seeds; more (up to 160) only until the faults below have each happened often
  // enough. Torn tails are not required: since segments are created whole (session 10) a write
  // tears only at a sector boundary, which the small batches in flight at a power loss here seldom
  // cross (none in 160 seeds); fault.test.ts and wal-cut.test.ts repair them with the same FaultyFs.
  for (let seed = 1; seed <= 160 && (seed <= 80 || !covered()); seed++) {
    const r = simulateSeed({ seed, nodes: [3, 5, 7][seed % 3]!, mutant: null, linCheckBudgetMs: 1000 });
    if (r.violations.length > 0) failures.push(`seed ${seed}: ${r.violations[0] ?? ''}`);
    if (r.wal === null) continue;
    sum.seeds++;
    sum.repairs += r.wal.repairs;
    sum.bitFlips += r.wal.bitFlips;
    sum.refusals += r.wal.refusals;
    sum.crashesMidWrite += r.wal.crashesMidWrite;
  }
  assert.deepEqual(failures, []);
  assert.ok(sum.seeds >= 20, `WAL seeds ran: ${JSON.stringify(sum)}`);
  assert.ok(sum.crashesMidWrite >= 8, `crashes mid-write: ${JSON.stringify(sum)}`);
  assert.ok(sum.bitFlips >= 4 && sum.refusals >= 4, `bit flips made nodes refuse: ${JSON.stringify(sum)}`);
});
