import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistorySync } from './checker.ts';
import type { HistoryOp } from './history.ts';
import { renderHtml } from './html.ts';

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
