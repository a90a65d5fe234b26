import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHistoryJsonl, HistoryParseError, parseHistoryJsonl, type HistoryOp } from './history.ts';

const sample: HistoryOp[] = [
  { client: 1, op: 'put', key: 'k', value: 'a', call: 1, return: 5, outcome: 'ok' },
  { client: 2, op: 'get', key: 'k', call: 2, return: 6, outcome: 'ok', output: { found: true, value: 'a' } },
  {
    client: 3,
    op: 'cas',
    key: 'k',
    value: 'b',
    expected: null,
    call: 3,
    return: 7,
    outcome: 'ok',
    output: { swapped: false },
  },
  { client: 4, op: 'delete', key: 'k', call: 4, return: null, outcome: 'unknown' },
  { client: 5, op: 'append', key: 'j', value: 'x', call: 4, return: 9, outcome: 'fail' },
  { client: 6, op: 'get', key: 'j', call: 10, return: 11, outcome: 'ok', output: { found: false } },
];

test('jsonl: format then parse is the identity; blank lines are skipped', () => {
  const text = formatHistoryJsonl(sample);
  assert.deepEqual(parseHistoryJsonl(text + '\n\n'), sample);
});

test('jsonl: every kind of bad line is rejected with its line number', () => {
  const good = formatHistoryJsonl(sample.slice(0, 1)).trim();
  const bad: [string, RegExp][] = [
    ['{not json', /invalid JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"client":1,"op":"scan","key":"k","call":1,"return":2,"outcome":"ok"}', /'op'/],
    ['{"client":-1,"op":"delete","key":"k","call":1,"return":2,"outcome":"ok"}', /'client'/],
    ['{"client":1,"op":"put","key":"k","call":1,"return":2,"outcome":"ok"}', /'value'/],
    [
      '{"client":1,"op":"cas","key":"k","value":"v","call":1,"return":2,"outcome":"ok","output":{"swapped":true}}',
      /'expected'/,
    ],
    ['{"client":1,"op":"get","key":"k","call":3,"return":2,"outcome":"ok","output":{"found":false}}', /'return'/],
    [
      '{"client":1,"op":"get","key":"k","call":1,"return":null,"outcome":"ok","output":{"found":false}}',
      /'return' is required/,
    ],
    ['{"client":1,"op":"get","key":"k","call":1,"return":2,"outcome":"ok"}', /'output' is required/],
    ['{"client":1,"op":"get","key":"k","call":1,"return":2,"outcome":"ok","output":{"found":true}}', /output.value/],
    ['{"client":1,"op":"delete","key":"k","call":1,"return":2,"outcome":"maybe"}', /'outcome'/],
    ['{"client":1,"op":"delete","key":"k","call":1,"return":2,"outcome":"ok","extra":1}', /unknown field 'extra'/],
    ['{"client":1,"op":"delete","key":"k","call":1.5,"return":2,"outcome":"ok"}', /'call'/],
  ];
  for (const [line, re] of bad) {
    assert.throws(
      () => parseHistoryJsonl(`${good}\n\n${line}\n`),
      (e: unknown) =>
        e instanceof HistoryParseError && e.line === 3 && re.test(e.message) && e.message.startsWith('line 3:'),
      line,
    );
  }
});
