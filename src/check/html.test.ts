import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistorySync } from './checker.ts';
import type { HistoryOp } from './history.ts';
import { MAX_DRAWN_OPS, renderHtml } from './html.ts';

const ops: HistoryOp[] = [
  { client: 1, op: 'put', key: 'k', value: 'a', call: 0, return: 10, outcome: 'ok' },
  { client: 2, op: 'put', key: 'k', value: 'b', call: 12, return: 20, outcome: 'ok' },
  { client: 3, op: 'append', key: 'k', value: '<script>', call: 13, return: null, outcome: 'unknown' },
  { client: 1, op: 'get', key: 'k', call: 22, return: 30, outcome: 'ok', output: { found: true, value: 'a' } },
];

test('html: a self-contained page with the timeline, the partial linearization and the break', () => {
  const r = checkHistorySync(ops, { timeoutMs: 5_000 });
  assert.equal(r.verdict, 'not-linearizable');
  const html = renderHtml(r, 'test & <check>');
  assert.ok(html.startsWith('<!doctype html>'));
  assert.doesNotMatch(html, /https?:\/\//, 'no network references');
  assert.doesNotMatch(html, /<(script|img|link|iframe)[^>]*\s(src|href)=/i, 'no external resources');
  assert.match(html, /<svg /);
  assert.equal((html.match(/class="op /g) ?? []).length, ops.length, 'one bar per operation');
  assert.equal((html.match(/class="lp"/g) ?? []).length, r.violation?.longestPrefix.length);
  assert.match(html, /linearization breaks here/);
  assert.match(html, /class="op unplaced"/);
  assert.match(html, /client 3/);
  assert.match(html, /test &amp; &lt;check&gt;/, 'the title is escaped');
  assert.doesNotMatch(html, /append "<script>"/, 'values are escaped');
});

test('html: a big part draws only a window ending at the break', () => {
  const big: HistoryOp[] = [];
  for (let i = 0; i < 3_000; i++)
    big.push({ client: i % 7, op: 'put', key: 'k', value: `v${i}`, call: 10 * i, return: 10 * i + 5, outcome: 'ok' });
  big.push({
    client: 9,
    op: 'get',
    key: 'k',
    call: 30_000,
    return: 30_001,
    outcome: 'ok',
    output: { found: true, value: 'v0' },
  });
  const r = checkHistorySync(big, { timeoutMs: 10_000 });
  assert.equal(r.verdict, 'not-linearizable');
  const html = renderHtml(r, 'big');
  const bars = (html.match(/class="op /g) ?? []).length;
  assert.equal(bars, MAX_DRAWN_OPS);
  assert.match(html, /class="op unplaced"/, 'the stuck read is in the window');
  assert.match(html, /3001 operations: the timeline shows/);
});
