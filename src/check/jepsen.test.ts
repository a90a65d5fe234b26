import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryParseError } from './history.ts';
import { parseJepsenKv, parseJepsenRegister } from './jepsen.ts';

test('jepsen-register: reads, writes, cas (:fail = not swapped), :info = unknown, unfinished = unknown', () => {
  const log = [
    'INFO  jepsen.util - 0\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 1\t:invoke\t:write\t3',
    'INFO  jepsen.util - 0\t:ok\t:read\tnil',
    'INFO  jepsen.util - 1\t:info\t:write\t3',
    'INFO  jepsen.util - 2   :invoke :cas    [3 4]',
    'INFO  jepsen.util - 2   :fail   :cas    [3 4]',
    'INFO  jepsen.util - 3\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 3\t:fail\t:read\t:timed-out',
    'INFO  jepsen.core - some other line',
    'INFO  jepsen.util - 4\t:invoke\t:cas\t[nil 1]',
  ].join('\n');
  const ops = parseJepsenRegister(log);
  assert.deepEqual(ops, [
    { client: 0, key: 'register', call: 1, op: 'get', return: 3, outcome: 'ok', output: { found: false } },
    { client: 1, key: 'register', call: 2, op: 'put', value: '3', return: null, outcome: 'unknown' },
    {
      client: 2,
      key: 'register',
      call: 5,
      op: 'cas',
      expected: '3',
      value: '4',
      return: 6,
      outcome: 'ok',
      output: { swapped: false },
    },
    { client: 3, key: 'register', call: 7, op: 'get', return: 8, outcome: 'fail' },
    { client: 4, key: 'register', call: 9, op: 'cas', expected: null, value: '1', return: null, outcome: 'unknown' },
  ]);
});

test('jepsen-register: errors name the line', () => {
  const cases: [string, RegExp][] = [
    [
      'INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil',
      /line 2: .*invoked twice/,
    ],
    ['INFO  jepsen.util - 0\t:ok\t:read\t1', /line 1: .*never invoked/],
    ['INFO  jepsen.util - 0\t:invoke\t:scan\tnil', /line 1: .*unknown register operation/],
    ['\nINFO  jepsen.util - 0\t:invoke\t:write\t{1}', /line 2: cannot read value/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => parseJepsenRegister(text),
      (e: unknown) => e instanceof HistoryParseError && re.test(e.message),
      text,
    );
});

test('jepsen-kv: EDN lines, get "" = absent', () => {
  const text = [
    '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}',
    '{:process 1, :type :invoke, :f :get, :key "4", :value nil}',
    '{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}',
    '{:process 1, :type :ok, :f :get, :key "4", :value ""}',
    '{:process 2, :type :invoke, :f :put, :key "5", :value "v \\"q\\""}',
    '{:process 2, :type :info, :f :put, :key "5", :value "v \\"q\\""}',
  ].join('\n');
  assert.deepEqual(parseJepsenKv(text), [
    { client: 0, op: 'append', key: '4', call: 1, return: 3, outcome: 'ok', value: 'x 0 1 y' },
    { client: 1, op: 'get', key: '4', call: 2, return: 4, outcome: 'ok', output: { found: false } },
    { client: 2, op: 'put', key: '5', call: 5, return: null, outcome: 'unknown', value: 'v "q"' },
  ]);
});

test('jepsen-kv: errors name the line', () => {
  const cases: [string, RegExp][] = [
    ['{:process 0, :type :invoke, :f :get, :key "1", :value nil}\n{:process 0 :type}', /line 2: cannot read EDN/],
    ['not edn', /line 1: expected an EDN map/],
    ['{:process 0, :type :invoke, :f :scan, :key "1", :value nil}', /line 1: unknown :f/],
    ['{:process 0, :type :ok, :f :get, :key "1", :value nil}', /line 1: .*did not invoke/],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => parseJepsenKv(text),
      (e: unknown) => e instanceof HistoryParseError && re.test(e.message),
      text,
    );
});
