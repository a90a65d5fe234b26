// The checker's model for multi-key transactions (issue 14): atomicity violations are caught.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistorySync } from './checker.ts';
import { formatHistoryJsonl, parseHistoryJsonl, type HistoryOp, type TxnSpec } from './history.ts';
import { partitionByGroups } from './txn-model.ts';

const txn = (
  client: number,
  call: number,
  ret: number,
  spec: TxnSpec,
  succeeded: boolean,
  results: ({ found: boolean; value?: string } | null)[],
): HistoryOp => ({
  client,
  op: 'txn',
  key: '',
  txn: spec,
  call,
  return: ret,
  outcome: 'ok',
  output: { succeeded, results },
});

// Two accounts, a and b; a transfer moves "1" from a to b atomically: (a,b) = (x,y) → (y,x) style.
const transfer: TxnSpec = {
  compare: [
    { key: 'a', value: '1' },
    { key: 'b', value: '0' },
  ],
  success: [
    { op: 'put', key: 'a', value: '0' },
    { op: 'put', key: 'b', value: '1' },
  ],
  failure: [],
};
const readBoth: TxnSpec = {
  compare: [],
  success: [
    { op: 'get', key: 'a' },
    { op: 'get', key: 'b' },
  ],
  failure: [],
};
const setup: HistoryOp[] = [
  { client: 0, op: 'put', key: 'a', value: '1', call: 0, return: 1, outcome: 'ok' },
  { client: 0, op: 'put', key: 'b', value: '0', call: 2, return: 3, outcome: 'ok' },
];

const check = (ops: HistoryOp[]) => checkHistorySync(ops, { timeoutMs: 10_000 }).verdict;

test('transactions that are atomic are linearizable; a torn read is not', () => {
  const good = [
    ...setup,
    txn(1, 10, 20, transfer, true, [null, null]),
    txn(2, 12, 18, readBoth, true, [
      { found: true, value: '1' },
      { found: true, value: '0' },
    ]), // before the transfer
    txn(3, 21, 22, readBoth, true, [
      { found: true, value: '0' },
      { found: true, value: '1' },
    ]), // after
  ];
  assert.equal(check(good), 'linearizable');
  // Concurrent with the transfer, a reader sees a already debited but b not yet credited.
  const torn = [
    ...setup,
    txn(1, 10, 20, transfer, true, [null, null]),
    txn(2, 12, 18, readBoth, true, [
      { found: true, value: '0' },
      { found: true, value: '0' },
    ]),
  ];
  assert.equal(check(torn), 'not-linearizable');
  // Single-key reads can catch it too, once ordered: after the transfer a=0 but b still 0.
  const partial: HistoryOp[] = [
    ...setup,
    txn(1, 10, 20, transfer, true, [null, null]),
    { client: 2, op: 'get', key: 'a', call: 21, return: 22, outcome: 'ok', output: { found: true, value: '0' } },
    { client: 2, op: 'get', key: 'b', call: 23, return: 24, outcome: 'ok', output: { found: true, value: '0' } },
  ];
  assert.equal(check(partial), 'not-linearizable');
});

test('a transaction reporting the wrong branch is caught; an unknown one may apply or not', () => {
  const wrongBranch = [
    ...setup,
    txn(1, 10, 20, { ...transfer, compare: [{ key: 'a', value: null }] }, true, [null, null]),
  ];
  assert.equal(check(wrongBranch), 'not-linearizable');
  const unknown: HistoryOp[] = [
    ...setup,
    { client: 1, op: 'txn', key: '', txn: transfer, call: 10, return: null, outcome: 'unknown' },
    { client: 2, op: 'get', key: 'b', call: 30, return: 31, outcome: 'ok', output: { found: true, value: '1' } },
    { client: 2, op: 'get', key: 'a', call: 32, return: 33, outcome: 'ok', output: { found: true, value: '0' } },
  ];
  assert.equal(check(unknown), 'linearizable');
  // ...but not half of it.
  const half = unknown.map((o, i) => (i === 4 ? { ...o, output: { found: true, value: '1' } } : o));
  assert.equal(check(half), 'not-linearizable');
});

test('keys a transaction joins are checked together; other keys stay apart', () => {
  const ops: HistoryOp[] = [
    ...setup,
    { client: 0, op: 'put', key: 'z', value: '1', call: 4, return: 5, outcome: 'ok' },
    txn(
      1,
      10,
      20,
      { compare: [{ key: 'c', value: null }], success: [{ op: 'put', key: 'b', value: '2' }], failure: [] },
      true,
      [null],
    ),
  ];
  assert.deepEqual([...partitionByGroups(ops).keys()].sort(), ['a', 'b + c', 'z']);
  assert.equal(check(ops), 'linearizable');
});

test('txn lines in the history format: round trip and clear errors', () => {
  const op = txn(1, 10, 20, transfer, false, []);
  assert.deepEqual(parseHistoryJsonl(formatHistoryJsonl([op])), [op]);
  const bad = (line: string, msg: RegExp): void => assert.throws(() => parseHistoryJsonl(line), msg);
  bad('{"client":1,"op":"txn","key":"","call":1,"return":2,"outcome":"fail"}', /'txn' \(object/);
  bad(
    '{"client":1,"op":"txn","key":"","txn":{"compare":[{"key":"a"}],"success":[],"failure":[]},"call":1,"return":2,"outcome":"fail"}',
    /txn.compare/,
  );
  bad(
    '{"client":1,"op":"txn","key":"","txn":{"compare":[],"success":[{"op":"cas","key":"a"}],"failure":[]},"call":1,"return":2,"outcome":"fail"}',
    /txn.success/,
  );
  bad(
    '{"client":1,"op":"txn","key":"","txn":{"compare":[],"success":[],"failure":[]},"call":1,"return":2,"outcome":"ok","output":{"succeeded":1,"results":[]}}',
    /succeeded: boolean/,
  );
  bad(
    '{"client":1,"op":"put","key":"a","value":"1","txn":{},"call":1,"return":2,"outcome":"ok"}',
    /'txn' is not allowed for put/,
  );
});
