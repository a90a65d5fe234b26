// Raft §5.3 (log replication, Log Matching), §5.4.2 (commit rule, Figure 8), flow control, snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from './types.ts';
import { TestCluster, isolate } from './testkit.ts';
import type { Disk } from './testkit.ts';

const text = (e: Entry): string => new TextDecoder().decode(e.data);

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

test('Log Matching and State Machine Safety under random partitions and proposals', () => {
  for (let trial = 0; trial < 6; trial++) {
    const rnd = lcg(100 + trial);
    const c = new TestCluster(['a', 'b', 'c', 'd', 'e'], { maxEntriesPerAppend: 3 }, () => rnd());
    let n = 0;
    for (let step = 0; step < 40; step++) {
      const cut = c.ids.filter(() => rnd() < 0.25);
      c.drop = (m) => cut.includes(m.from) !== cut.includes(m.to) || rnd() < 0.05;
      for (const id of c.leaders())
        if (rnd() < 0.8) c.get(id).node.propose(new TextEncoder().encode(`v${n++}`), c.get(id).nowMs);
      c.run(150, 15);
    }
    c.drop = () => false;
    c.run(3000, 20);
    // Log Matching: same index and term ⇒ identical prefixes.
    for (const x of c.ids) {
      for (const y of c.ids) {
        const ex = c.get(x).disk.entries;
        const ey = c.get(y).disk.entries;
        for (let i = Math.min(ex.length, ey.length) - 1; i >= 0; i--) {
          if (ex[i]?.term === ey[i]?.term) {
            for (let j = 0; j <= i; j++)
              assert.equal(ex[j]?.term, ey[j]?.term, `${x},${y} differ at ${j + 1} below a match at ${i + 1}`);
            break;
          }
        }
      }
    }
    // State Machine Safety: every node applied a prefix of the same sequence; all converged.
    const longest = c.ids.map((id) => c.get(id).applied).reduce((a, b) => (a.length >= b.length ? a : b));
    for (const id of c.ids) {
      const ap = c.get(id).applied;
      ap.forEach((e, i) =>
        assert.deepEqual(
          [e.index, e.term, text(e)],
          [longest[i]?.index, longest[i]?.term, longest[i] && text(longest[i])],
        ),
      );
      assert.equal(ap.length, longest.length, `${id} converged after healing`);
    }
    assert.ok(longest.length > 10, 'the run made progress');
  }
});

test('commit rule (§5.4.2): a leader commits an entry only once a majority stores it', () => {
  const c = new TestCluster(['a', 'b', 'c', 'd', 'e']);
  c.electFirst();
  c.drop = (m) => ['c', 'd', 'e'].includes(m.to) || ['c', 'd', 'e'].includes(m.from);
  const idx = c.propose('a', 'x');
  c.deliverAll();
  assert.ok(c.node('a').status(0).commit < idx, 'two of five copies are not a majority');
  c.drop = (m) => ['d', 'e'].includes(m.to) || ['d', 'e'].includes(m.from);
  c.run(600, 20);
  assert.ok(c.node('a').status(0).commit >= idx, 'three of five copies are');
});

test('commit rule: the leader counts its own copy only once its disk has it', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.drop = isolate('c');
  c.slowDisk.add('a');
  const idx = c.propose('a', 'x');
  c.deliverAll();
  assert.ok(
    c.get('b').disk.entries.some((e) => e.index === idx),
    'b stored it',
  );
  assert.ok(c.node('a').status(0).commit < idx, 'b alone is not a majority while a has not persisted');
  c.flushDisk('a');
  assert.ok(c.node('a').status(0).commit >= idx);
});

test('Figure 8: an entry of an older term stored on a majority is not committed by counting', () => {
  const c = new TestCluster(['s1', 's2', 's3', 's4', 's5'], { maxEntriesPerAppend: 1 });
  c.electFirst(); // s1, term 1, NO-OP at index 1 everywhere
  const t1 = c.node('s1').status(0).term;
  // (a) s1 replicates index 2 only to s2.
  const minority = ['s1', 's2'];
  c.drop = (m) => minority.includes(m.from) !== minority.includes(m.to);
  const idx2 = c.propose('s1', 'old');
  c.deliverAll();
  assert.equal(c.get('s2').disk.entries[1]?.term, t1);
  // (b) the other side elects X; X's NO-OP (its index 2) reaches nobody; then X is cut off.
  let x = '';
  c.drop = (m) =>
    minority.includes(m.from) !== minority.includes(m.to) || (m.type === 'app' && !minority.includes(m.from));
  for (let i = 0; i < 100 && x === ''; i++) {
    c.run(50, 10);
    x = c.leaders().find((id) => !minority.includes(id)) ?? '';
  }
  assert.ok(x !== '', 'the majority side elected a leader');
  const tx = c.node(x).status(0).term;
  assert.equal(c.get(x).disk.entries[1]?.term, tx, 'X holds its NO-OP at index 2');
  // (c) s1 leads again without X; index 2 (term t1) reaches s3 but s1's own NO-OP reaches nobody.
  c.drop = (m) =>
    m.from === x || m.to === x || (m.from === 's1' && m.type === 'app' && m.entries.some((e) => e.term > t1));
  let t3 = 0;
  for (let i = 0; i < 200 && t3 === 0; i++) {
    c.run(50, 10);
    if (c.leaders().includes('s1') && c.node('s1').status(0).term > tx) t3 = c.node('s1').status(0).term;
  }
  assert.ok(t3 > 0, 's1 leads again in a newer term');
  c.run(300, 10);
  const holders = c.ids.filter((id) => c.get(id).disk.entries[idx2 - 1]?.term === t1);
  assert.ok(holders.length >= 3, `index 2 of term ${t1} is on a majority (${holders.join(',')})`);
  assert.ok(c.node('s1').status(0).commit < idx2, 'but it is not committed: it is not of the current term');
  // (d) s1 fails; X can still win (its last term is newer) and overwrite index 2 — safely.
  // Only X campaigns (the others' timers are slower in the paper's telling).
  c.drop = (m) => m.from === 's1' || m.to === 's1' || (m.type === 'vote' && m.from !== x);
  for (let i = 0; i < 200 && !c.leaders().includes(x); i++) c.run(50, 10);
  assert.ok(c.leaders().includes(x), 'X won again');
  c.run(500, 10);
  for (const id of c.ids) {
    assert.ok(
      !c.get(id).applied.some((e) => e.index === idx2 && e.term === t1),
      `${id} never applied the uncommitted entry`,
    );
  }
  assert.equal(c.get('s3').disk.entries[idx2 - 1]?.term, tx, 'overwritten by X');
});

function disk(terms: number[], term: number): Disk {
  return {
    hardState: { term, votedFor: null, commit: 1 },
    entries: terms.map((t, i) => ({ index: i + 1, term: t, type: 0, data: new Uint8Array(0) })),
    snapshot: null,
  };
}

test('fast backtracking: a follower with a long conflicting suffix is repaired in one rejection', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  const leaderLog = [1, ...Array.from({ length: 30 }, () => 3)];
  const staleLog = [1, ...Array.from({ length: 50 }, () => 2)];
  c.get('a').disk = disk(leaderLog, 3);
  c.get('b').disk = disk(leaderLog, 3);
  c.get('c').disk = disk(staleLog, 3);
  for (const id of c.ids) c.restart(id);
  c.run(4000, 20);
  assert.deepEqual(c.leaders(), ['a']);
  const rejections = c.eventsOf('a', 'append-rejected');
  assert.ok(rejections.length <= 2, `took ${rejections.length} rejections (one per entry would be 50)`);
  const aTerms = c.get('a').disk.entries.map((e) => e.term);
  assert.deepEqual(
    c.get('c').disk.entries.map((e) => e.term),
    aTerms,
  );
});

test('flow control: at most maxInflightAppends appends of at most maxEntriesPerAppend entries in flight', () => {
  const c = new TestCluster(['a', 'b', 'c'], { maxEntriesPerAppend: 2, maxInflightAppends: 3 });
  c.electFirst();
  c.run(300);
  for (let i = 0; i < 20; i++) c.get('a').node.propose(new TextEncoder().encode(`v${i}`), c.get('a').nowMs);
  c.pump('a');
  const toB = c.queue.filter((m) => m.to === 'b' && m.type === 'app' && m.entries.length > 0);
  assert.equal(toB.length, 3);
  for (const m of toB) assert.ok(m.type === 'app' && m.entries.length <= 2);
  c.run(500);
  assert.equal(c.node('b').status(0).lastIndex, c.node('a').status(0).lastIndex, 'the pipeline drains');
});

test('flow control: maxBytesPerAppend splits large entries (but always sends at least one)', () => {
  const c = new TestCluster(['a', 'b', 'c'], { maxBytesPerAppend: 1000 });
  c.electFirst();
  c.run(300);
  const big = new Uint8Array(600);
  for (let i = 0; i < 4; i++) c.get('a').node.propose(big, c.get('a').nowMs);
  c.get('a').node.propose(new Uint8Array(5000), c.get('a').nowMs);
  c.pump('a');
  const toB = c.queue.filter((m) => m.to === 'b' && m.type === 'app' && m.entries.length > 0);
  for (const m of toB) if (m.type === 'app') assert.equal(m.entries.length, 1);
  c.run(500);
  assert.equal(c.node('b').status(0).lastIndex, c.node('a').status(0).lastIndex);
});

test('snapshots: a follower that needs a compacted entry gets a SnapshotRequest and catches up', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  c.drop = isolate('c');
  c.run(200);
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  c.run(300);
  const applied = c.get('a').applied.at(-1)?.index ?? 0;
  c.node('a').compact(applied);
  c.drop = () => false;
  c.run(300);
  assert.equal(c.get('c').disk.snapshot?.index, applied);
  c.propose('a', 'after');
  c.run(300);
  const last = c.node('a').status(0).lastIndex;
  assert.equal(c.node('c').status(0).commit, last);
  assert.equal(c.get('c').applied.at(-1)?.index, last, 'c applies entries after the snapshot');
});

test('a follower whose data folder was wiped (same id, empty log) is caught up by the same leader', () => {
  // docs/storage.md "How to recover a corrupt node": wipe the folder and restart with the same id.
  // The leader still believes the follower matches its log; the follower's rejections of heartbeats
  // at that point must not be dismissed as stale forever.
  const c = new TestCluster(['a', 'b', 'c']);
  c.electFirst();
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.run(500, 20);
  const last = c.node('a').status(c.get('a').nowMs).commit;
  assert.equal(c.get('c').disk.entries.at(-1)?.index, last, 'c caught up before the wipe');
  c.get('c').disk = { hardState: { term: 0, votedFor: null, commit: 0 }, entries: [], snapshot: null };
  c.restart('c');
  c.run(3000, 20);
  assert.equal(c.leaders().join(), 'a', 'the same leader throughout');
  assert.equal(
    c.get('c').disk.entries.at(-1)?.index,
    last,
    'the wiped follower got the log back without any new write',
  );
  const idx = c.propose('a', 'after');
  c.run(500, 20);
  assert.equal(c.get('c').disk.entries.at(-1)?.index, idx);
});

test('proposals made before the host takes the outbox share one AppendRequest per follower', () => {
  const c = new TestCluster(['a', 'b', 'c']);
  const a = c.electFirst();
  c.deliverAll();
  const t = c.get(a);
  for (let i = 0; i < 5; i++) t.node.propose(new TextEncoder().encode(`p${i}`), t.nowMs);
  const rd = t.node.ready(t.nowMs);
  assert.ok(rd !== null);
  const apps = rd.messages.map((o) => o.msg).filter((m) => m.type === 'app');
  assert.deepEqual(
    apps.map((m) => [m.to, m.type === 'app' ? m.entries.map(text) : []]),
    [
      ['b', ['p0', 'p1', 'p2', 'p3', 'p4']],
      ['c', ['p0', 'p1', 'p2', 'p3', 'p4']],
    ],
  );
  assert.deepEqual(rd.entries.map(text), ['p0', 'p1', 'p2', 'p3', 'p4']);
});
