// Unit tests for the simulator's building blocks: each one shown doing its job, and each oracle
// shown catching a deliberately broken observation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../raft/types.ts';
import type { Entry } from '../raft/types.ts';
import { ArgsError, parseSimArgs } from './args.ts';
import { NodeClock } from './clock.ts';
import { encodeCommand } from '../kv/command.ts';
import { Oracles } from './oracles.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { MemStorage } from './storage.ts';

const put = (index: number, term: number, key: string, value: string): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: encodeCommand({ op: 'put', key, value }),
});

test('prng: same seed, same stream; different seeds differ', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.nextU32()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.nextU32()),
  );
  for (let i = 0; i < 1000; i++) {
    const v = a.int(3, 7);
    assert.ok(v >= 3 && v <= 7 && Number.isInteger(v));
  }
});

test('event queue: pops by time, FIFO among equal times', () => {
  const q = new EventQueue<string>();
  q.push(5, 'c');
  q.push(1, 'a');
  q.push(5, 'd');
  q.push(2, 'b');
  const out: string[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e.event);
  assert.deepEqual(out, ['a', 'b', 'c', 'd']);
});

test('clock: trueUsAt is the earliest true time reaching a local time', () => {
  const c = new NodeClock(1.01, 12345.678);
  for (const local of [12345.678, 12400.1, 99999.9]) {
    const us = c.trueUsAt(local);
    assert.ok(c.localMs(us) >= local);
    assert.ok(c.localMs(us - 1) < local);
  }
});

test('storage: a crash keeps exactly what was fsynced', () => {
  const s = new MemStorage(['n1']);
  s.append([put(1, 1, 'k', 'a'), put(2, 1, 'k', 'b')]);
  s.setHardState({ term: 1, votedFor: 'n1', commit: 0 });
  s.sync();
  s.append([put(3, 1, 'k', 'c')]);
  s.setHardState({ term: 2, votedFor: null, commit: 2 });
  s.crash();
  assert.equal(s.lastIndex(), 2);
  assert.deepEqual(s.current.hardState, { term: 1, votedFor: 'n1', commit: 0 });
  s.append([put(2, 2, 'k', 'x')]); // overwrites index 2 and everything after it
  assert.equal(s.termAt(2), 2);
  assert.equal(s.lastIndex(), 2);
});

test('oracle: state machine safety catches two different entries applied at one index', () => {
  const o = new Oracles(new Map());
  o.onApply('n1', put(1, 1, 'k', 'a'));
  o.onApply('n2', put(1, 1, 'k', 'a'));
  assert.equal(o.failed, false);
  o.onApply('n3', put(1, 2, 'k', 'b'));
  assert.match(o.violations[0] ?? '', /state machine safety/);
});

test('oracle: stale read and invented values are caught', () => {
  const o = new Oracles(new Map());
  o.onProposed('v1');
  o.onApply('n1', put(3, 1, 'k', 'v1'));
  o.onWriteAcked('k', 3, 1, 1000, 'v1');
  o.checkRead(0, 'k', 999, 0, null, 'lease'); // issued before the ack: absent is fine
  assert.equal(o.failed, false);
  o.checkRead(0, 'k', 1001, 0, null, 'lease');
  assert.match(o.violations[0] ?? '', /stale read/);
  const o2 = new Oracles(new Map());
  o2.checkRead(0, 'k', 5, 7, 'never-written', 'lease');
  assert.match(o2.violations[0] ?? '', /no write produced/);
});

test('oracle: election safety, log matching and lease exclusivity', () => {
  const s1 = new MemStorage(['n1', 'n2']);
  const s2 = new MemStorage(['n1', 'n2']);
  const o = new Oracles(
    new Map([
      ['n1', s1],
      ['n2', s2],
    ]),
  );
  o.onLeader('n1', 4);
  o.onLeader('n2', 4);
  assert.match(o.violations[0] ?? '', /election safety/);
  const o2 = new Oracles(
    new Map([
      ['n1', s1],
      ['n2', s2],
    ]),
  );
  s1.append([put(1, 1, 'k', 'a')]);
  o2.onWrite('n1', [put(1, 1, 'k', 'a')]);
  s2.append([put(1, 1, 'k', 'b')]);
  o2.onWrite('n2', [put(1, 1, 'k', 'b')]);
  assert.match(o2.violations[0] ?? '', /log matching/);
  const o3 = new Oracles(new Map());
  o3.checkLeases(['n1'], 10);
  assert.equal(o3.failed, false);
  o3.checkLeases(['n1', 'n2'], 10);
  assert.match(o3.violations[0] ?? '', /lease exclusivity/);
});

test('args: validated with clear errors', () => {
  assert.deepEqual(parseSimArgs(['--seeds', '10', '--seed', '5', '--nodes', '5']).nodes, 5);
  assert.throws(
    () => parseSimArgs(['--nodes', '4']),
    (e: unknown) => e instanceof ArgsError && /3, 5 or 7/.test(e.message),
  );
  assert.throws(() => parseSimArgs(['--seeds', 'x']), /--seeds needs an integer/);
  assert.throws(() => parseSimArgs(['--mutant', 'nope']), /--mutant must be one of/);
  assert.throws(() => parseSimArgs(['--frobnicate']), /unknown argument/);
  assert.equal(parseSimArgs(['--mutant=lease-from-ack']).mutant, 'lease-from-ack');
});
