import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistorySync } from './checker.ts';
import type { HistoryOp } from './history.ts';

const T = { timeoutMs: 10_000 };
let nextClient = 0;
const put = (
  key: string,
  value: string,
  call: number,
  ret: number | null,
  outcome: HistoryOp['outcome'] = 'ok',
): HistoryOp => ({ client: nextClient++, op: 'put', key, value, call, return: ret, outcome });
const get = (key: string, value: string | null, call: number, ret: number): HistoryOp => ({
  client: nextClient++,
  op: 'get',
  key,
  call,
  return: ret,
  outcome: 'ok',
  output: value === null ? { found: false } : { found: true, value },
});
const cas = (
  key: string,
  expected: string | null,
  value: string,
  swapped: boolean,
  call: number,
  ret: number,
): HistoryOp => ({
  client: nextClient++,
  op: 'cas',
  key,
  expected,
  value,
  call,
  return: ret,
  outcome: 'ok',
  output: { swapped },
});
const verdict = (ops: HistoryOp[]): string => checkHistorySync(ops, T).verdict;

test('sequential reads see the latest write; a stale read is caught', () => {
  assert.equal(verdict([put('k', 'a', 0, 1), put('k', 'b', 2, 3), get('k', 'b', 4, 5)]), 'linearizable');
  const r = checkHistorySync([put('k', 'a', 0, 1), put('k', 'b', 2, 3), get('k', 'a', 4, 5)], T);
  assert.equal(r.verdict, 'not-linearizable');
  assert.equal(r.violation?.key, 'k');
  assert.equal(r.violation?.longestPrefix.length, 2);
  assert.match(r.violation?.unplaced[0]?.why ?? '', /read "a" but the value was "b"/);
});

test('concurrent operations may be ordered either way; touching intervals count as concurrent', () => {
  assert.equal(verdict([put('k', 'a', 0, 10), get('k', null, 1, 2), get('k', 'a', 3, 4)]), 'linearizable');
  assert.equal(verdict([put('k', 'a', 0, 10), get('k', 'a', 1, 2), get('k', null, 3, 4)]), 'not-linearizable');
  assert.equal(verdict([put('k', 'a', 0, 5), get('k', null, 5, 6)]), 'linearizable');
  assert.equal(verdict([put('k', 'a', 0, 5), get('k', null, 6, 7)]), 'not-linearizable');
});

test('unknown outcomes: may take effect any time after the call, or never — but not before the call', () => {
  assert.equal(verdict([put('k', 'a', 0, null, 'unknown'), get('k', 'a', 100, 101)]), 'linearizable');
  assert.equal(verdict([put('k', 'a', 0, null, 'unknown'), get('k', null, 100, 101)]), 'linearizable');
  assert.equal(
    verdict([put('k', 'a', 0, null, 'unknown'), get('k', null, 100, 101), get('k', 'a', 102, 103)]),
    'linearizable',
  );
  assert.equal(
    verdict([put('k', 'a', 0, null, 'unknown'), get('k', 'a', 100, 101), get('k', null, 102, 103)]),
    'not-linearizable',
  );
  assert.equal(verdict([get('k', 'a', 0, 1), put('k', 'a', 2, null, 'unknown')]), 'not-linearizable');
});

test('failed operations never took effect', () => {
  assert.equal(verdict([put('k', 'a', 0, 1, 'fail'), get('k', null, 2, 3)]), 'linearizable');
  assert.equal(verdict([put('k', 'a', 0, 1, 'fail'), get('k', 'a', 2, 3)]), 'not-linearizable');
});

test('cas, delete and append semantics', () => {
  assert.equal(
    verdict([cas('k', null, 'a', true, 0, 1), cas('k', null, 'b', false, 2, 3), get('k', 'a', 4, 5)]),
    'linearizable',
  );
  assert.equal(verdict([cas('k', null, 'a', true, 0, 1), cas('k', 'a', 'b', false, 2, 3)]), 'not-linearizable');
  assert.equal(verdict([put('k', 'a', 0, 1), cas('k', 'a', 'b', true, 2, 3), get('k', 'b', 4, 5)]), 'linearizable');
  const del: HistoryOp = { client: 99, op: 'delete', key: 'k', call: 2, return: 3, outcome: 'ok' };
  assert.equal(verdict([put('k', 'a', 0, 1), del, get('k', null, 4, 5)]), 'linearizable');
  assert.equal(verdict([put('k', 'a', 0, 1), del, get('k', 'a', 4, 5)]), 'not-linearizable');
  const app = (v: string, c: number, r: number): HistoryOp => ({
    client: nextClient++,
    op: 'append',
    key: 'k',
    value: v,
    call: c,
    return: r,
    outcome: 'ok',
  });
  assert.equal(verdict([app('x', 0, 1), app('y', 2, 3), get('k', 'xy', 4, 5)]), 'linearizable');
  assert.equal(verdict([app('x', 0, 10), app('y', 0, 10), get('k', 'yx', 11, 12)]), 'linearizable');
  assert.equal(verdict([app('x', 0, 1), app('y', 2, 3), get('k', 'yx', 4, 5)]), 'not-linearizable');
});

test('keys are independent (P-compositionality): a violation on one key is found and named', () => {
  const ops = [put('a', '1', 0, 1), put('b', '2', 0, 1), get('a', '1', 2, 3), get('b', '1', 2, 3)];
  const r = checkHistorySync(ops, T);
  assert.equal(r.verdict, 'not-linearizable');
  assert.equal(r.parts, 2);
  assert.equal(r.violation?.key, 'b');
});

/** Many concurrent unknown appends: the search space is huge (every subset, every order). */
function hardKey(key: string, n: number): HistoryOp[] {
  const ops: HistoryOp[] = [];
  for (let i = 0; i < n; i++)
    ops.push({ client: 1000 + i, op: 'append', key, value: `<${i}>`, call: i, return: null, outcome: 'unknown' });
  ops.push(get(key, 'impossible', 1000, 1001));
  return ops;
}

test('the time budget gives unknown, never a hang or a wrong verdict', () => {
  const start = performance.now();
  const r = checkHistorySync(hardKey('h', 40), { timeoutMs: 200 });
  assert.equal(r.verdict, 'unknown');
  assert.equal(r.undecided[0]?.reason, 'time budget exhausted');
  assert.ok(performance.now() - start < 5_000);
});

test('the state-cache bound gives unknown', () => {
  const r = checkHistorySync(hardKey('h', 40), { timeoutMs: 60_000, maxCachedStates: 10_000 });
  assert.equal(r.verdict, 'unknown');
  assert.equal(r.undecided[0]?.reason, 'state cache limit reached');
});

test('parts are interleaved: a hard key does not hide an easy violation in another key', () => {
  const ops = [...hardKey('a-hard', 40), put('b', '1', 0, 1), get('b', '2', 2, 3)];
  const r = checkHistorySync(ops, { timeoutMs: 30_000 });
  assert.equal(r.verdict, 'not-linearizable');
  assert.equal(r.violation?.key, 'b');
});

test('options are validated', () => {
  assert.throws(() => checkHistorySync([], { timeoutMs: 0 }), RangeError);
  assert.throws(() => checkHistorySync([], { timeoutMs: 10, maxCachedStates: -1 }), RangeError);
  assert.equal(verdict([]), 'linearizable');
});
