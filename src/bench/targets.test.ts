// The targets scenario's pure parts: which cells run, and the verdict table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.ts';
import { targetCells, targetsTable } from './targets.ts';

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
