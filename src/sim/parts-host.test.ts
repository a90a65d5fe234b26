// The simulated parts the real host runs on (disk.ts, transport.ts) and the exactly-once oracle,
// each shown doing its job: group commit with exactly the fsynced batches surviving a crash, frames
// and chunked snapshots that resume after a broken link, and a retried write applied twice caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../raft/types.ts';
import type { Entry, Message, NodeId, SnapshotRequest } from '../raft/types.ts';
import { encodeCommand } from '../kv/command.ts';
import { SimDisk } from './disk.ts';
import { Network } from './network.ts';
import { Oracles } from './oracles.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { MemStorage } from './storage.ts';
import { SimTransport, Wire } from './transport.ts';

const put = (index: number, value: string): Entry => ({
  index,
  term: 1,
  type: EntryType.Normal,
  data: encodeCommand({ op: 'put', key: 'k', value }),
});

/** A tiny world on virtual time. */
class Clock {
  nowUs = 0;
  readonly q = new EventQueue<() => void>();
  after(us: number, fn: () => void): void {
    this.q.push(this.nowUs + us, fn);
  }
  runUntil(us: number): void {
    for (;;) {
      const top = this.q.pop();
      if (top === undefined) break;
      if (top.atUs > us) {
        this.q.push(top.atUs, top.event);
        break;
      }
      this.nowUs = top.atUs;
      top.event();
    }
    this.nowUs = us;
  }
}

function disk(clock: Clock, storage: MemStorage): SimDisk {
  return new SimDisk(storage, {
    after: (us, fn) => clock.after(us, fn),
    inProcess: (fn) => fn(),
    fsyncLatencyUs: () => 1000,
    writeLatencyUs: () => 10,
    readLatencyUs: () => 10,
    onWrite: () => {},
  });
}

test('disk: group commit — requests during an fsync share the next one; a crash keeps exactly the fsynced batches', () => {
  const clock = new Clock();
  const st = new MemStorage(['n1']);
  const d = disk(clock, st);
  const done: string[] = [];
  const req = (entries: Entry[]) => ({ entries, hardState: null, snapshot: null, sync: true });
  d.persist(req([put(1, 'a')]), () => done.push('a'));
  clock.runUntil(500); // batch 1 in flight
  d.persist(req([put(2, 'b')]), () => done.push('b'));
  d.persist(req([put(3, 'c')]), () => done.push('c'));
  assert.equal(st.lastIndex(), 3, 'the node sees what it wrote at once');
  clock.runUntil(1000); // batch 1 durable; b and c start batch 2 together
  assert.deepEqual(done, ['a']);
  assert.equal(st.durableState.entries.length, 1);
  clock.runUntil(2000);
  assert.deepEqual(done, ['a', 'b', 'c']);
  assert.equal(d.fsyncs, 2, 'three requests, two fsyncs');
  // Now a batch whose fsync has not completed, and a request queued behind it: both lost by a crash.
  d.persist(req([put(4, 'd')]), () => done.push('d'));
  clock.runUntil(2500);
  d.persist(req([put(5, 'e')]), () => done.push('e'));
  d.crash();
  st.crash();
  clock.runUntil(10_000);
  assert.equal(st.lastIndex(), 3);
  assert.deepEqual(done, ['a', 'b', 'c'], 'nothing answered after the crash');
});

test('wire: frames are batched per peer; a snapshot streams in chunks and resumes after a broken link', () => {
  const clock = new Clock();
  const net = new Network(new Prng(1), () => ({ minUs: 100, maxUs: 300 }));
  const ends = new Map<NodeId, { inProcess(fn: () => void): void; transport: SimTransport }>();
  const wire = new Wire(net, {
    get nowUs() {
      return clock.nowUs;
    },
    after: (us, fn) => clock.after(us, fn),
    end: (id) => ends.get(id),
    starved: () => false,
  });
  const got: { frames: Message[][]; snap: Uint8Array | null } = { frames: [], snap: null };
  for (const id of ['n1', 'n2']) ends.set(id, { inProcess: (fn) => fn(), transport: new SimTransport(id, wire) });
  const t2 = ends.get('n2')!.transport;
  t2.onMessage(() => {});
  const receive = t2.receive.bind(t2);
  t2.receive = (frame) => {
    got.frames.push([...frame]);
    receive(frame);
  };
  t2.onSnapshot((_m, data) => (got.snap = data));
  const hb = (i: number): Message =>
    ({ type: 'app', from: 'n1', to: 'n2', term: 1, prevIndex: i, prevTerm: 1, entries: [], commit: 0 }) as never;
  ends.get('n1')!.transport.send([hb(1), hb(2), hb(3)]);
  clock.runUntil(1000);
  assert.equal(got.frames.length, 1);
  assert.equal(got.frames[0]!.length, 3);
  const data = Uint8Array.from({ length: 600 }, (_, i) => i % 251);
  const msg = {
    type: 'snap',
    from: 'n1',
    to: 'n2',
    term: 1,
    snapshot: { index: 9, term: 1 },
  } as never as SnapshotRequest;
  const t1 = ends.get('n1')!.transport;
  t1.sendSnapshot(msg, data);
  assert.equal(t1.snapshotInProgress('n2'), true);
  clock.runUntil(clock.nowUs + 700); // a few chunks in, then the link breaks
  net.block('n1', 'n2');
  clock.runUntil(clock.nowUs + 200_000);
  assert.equal(got.snap, null);
  net.clearBlocks();
  clock.runUntil(clock.nowUs + 1_000_000);
  assert.deepEqual(got.snap, data);
  assert.equal(t1.snapshotInProgress('n2'), false);
  assert.ok(wire.stats.chunks >= 600 / 64, `chunked: ${JSON.stringify(wire.stats)}`);
  assert.ok(wire.stats.resumes > 0, `resumed: ${JSON.stringify(wire.stats)}`);
});

test('oracle: exactly-once catches a write applied twice on one node, not its replay at the same index', () => {
  const o = new Oracles(new Map());
  const ok = { op: 'put', revision: 1 } as const;
  o.onApply('n1', put(3, 'v'), ok, true);
  o.onApply('n1', put(3, 'v'), ok, true); // the node restarted and applied its log again
  o.onApply('n2', put(3, 'v'), ok, true);
  o.onApply('n1', put(5, 'v'), { op: 'put', revision: 2 }, false); // the retry answered from its session
  assert.equal(o.failed, false);
  o.onApply('n2', put(5, 'v'), { op: 'put', revision: 2 }, true); // ... applied again
  assert.match(o.violations[0] ?? '', /exactly-once: n2 applied the write k=v twice/);
});
