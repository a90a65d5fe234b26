// The targets scenario's pure parts: which cells run, the verdict table and the CPU account.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, warmupMsFor } from './args.ts';
import { machineTicks } from './cpu.ts';
import { cpuAccount, targetCells, targetsTable } from './targets.ts';

test('targets run the given cell by default and the 3/5 nodes × 0/25 ms matrix with --matrix', () => {
  assert.deepEqual(targetCells(parseArgs(['--scenario', 'targets', '--nodes', '5'])), [{ nodes: 5, peerDelayMs: 0 }]);
  assert.deepEqual(
    targetCells(parseArgs(['--scenario', 'targets', '--matrix'])).map((c) => `${c.nodes}/${c.peerDelayMs}`),
    ['3/0', '3/25', '5/0', '5/25'],
  );
});

test('the targets table states plainly which targets were not met', () => {
  const t = targetsTable([
    { nodes: 3, peerDelayMs: 0, target: 'w', measured: 'a vs b', ratio: 1.5, bound: 2, atLeast: true, met: false },
    { nodes: 3, peerDelayMs: 0, target: 'f', measured: 'c vs d', ratio: 0.6, bound: 1, atLeast: false, met: true },
  ]);
  assert.match(t, /\| 3 \| 0 ms \| w \| a vs b \| 1\.50× \| \*\*no\*\* \|/);
  assert.match(t, /\| f \| c vs d \| 0\.60× \| yes \|/);
});

test("the targets table prints each line's detail under it", () => {
  const t = targetsTable([
    {
      nodes: 3,
      peerDelayMs: 25,
      target: 'w',
      measured: 'a vs b',
      ratio: 1.1,
      bound: 2,
      atLeast: true,
      met: false,
      detail: 'why',
    },
    { nodes: 3, peerDelayMs: 25, target: 'f', measured: 'c vs d', ratio: 0.6, bound: 1, atLeast: false, met: true },
  ]);
  assert.match(t, /\n\n- 3 nodes, 25 ms: why$/);
  assert.doesNotMatch(
    targetsTable([
      { ...{ nodes: 3, peerDelayMs: 0, target: 'f', measured: 'x', ratio: 1, bound: 1, atLeast: true, met: true } },
    ]),
    /^- /m,
  );
});

test('the CPU account says what a ratio needs when the machine is saturated, and when it is out of reach', () => {
  // The quiet run of 2026-12-02 21:20: leasekv 332 + 130 µs, etcd 339 + 128 µs per write.
  const lk = { nodesUs: 332, loadGenUs: 130, machineBusy: 0.97 };
  const et = { nodesUs: 339, loadGenUs: 128, machineBusy: 0.98 };
  const a = cpuAccount(lk, et, 2);
  assert.match(a, /467 \/ 462 = 1\.01×/);
  // (339 + 128) / 2 - 130 = 103.5 µs for leasekv's members, 0.31× etcd's.
  assert.match(a, /≤ 104 µs per write \(0\.31× etcd's members' CPU\)/);
  assert.match(cpuAccount({ ...lk, loadGenUs: 300 }, et, 2), /out of reach with this load generator/);
  assert.match(cpuAccount({ ...lk, machineBusy: 0.6 }, et, 2), /not saturated/);
});

test("the machine's CPU ticks grow, busy never more than total", () => {
  const a = machineTicks();
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += i;
  const b = machineTicks();
  assert.ok(x > 0 && b.total >= a.total && b.busy >= a.busy && b.busy - a.busy <= b.total - a.total);
});

test('every system is warmed up 15 s before a targets run by default, and --warmup sets it', () => {
  assert.equal(warmupMsFor(parseArgs(['--scenario', 'targets']), 'targets'), 15_000);
  assert.equal(warmupMsFor(parseArgs(['--scenario', 'targets', '--warmup', '0']), 'targets'), 0);
  assert.equal(warmupMsFor(parseArgs([]), 'load'), 2000);
  assert.throws(() => parseArgs(['--warmup', '-1']), /--warmup must be a whole number/);
});
