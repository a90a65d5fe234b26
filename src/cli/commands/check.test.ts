import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './check.ts';

const line = (o: object): string => JSON.stringify(o);
const put = line({ client: 1, op: 'put', key: 'k', value: 'a', call: 0, return: 1, outcome: 'ok' });
const goodGet = line({
  client: 2,
  op: 'get',
  key: 'k',
  call: 2,
  return: 3,
  outcome: 'ok',
  output: { found: true, value: 'a' },
});
const badGet = line({ client: 2, op: 'get', key: 'k', call: 2, return: 3, outcome: 'ok', output: { found: false } });

test('leasekv check: exit codes 0/1/2/3, line-numbered parse errors, --html', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out: string[] = [];
  t.mock.method(console, 'log', (s: string) => out.push(s));
  t.mock.method(console, 'error', (s: string) => out.push(s));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  assert.equal(await run([file('ok.jsonl', `${put}\n${goodGet}\n`)]), 0);
  const html = join(dir, 'v.html');
  assert.equal(await run(['--html', html, file('bad.jsonl', `${put}\n${badGet}\n`)]), 1);
  assert.match(readFileSync(html, 'utf8'), /<svg /);
  assert.match(out.join('\n'), /key "k": cannot be linearized/);
  // 40 concurrent unknown appends and an impossible read: undecidable within 100 ms.
  const hard = Array.from({ length: 40 }, (_, i) =>
    line({ client: 10 + i, op: 'append', key: 'h', value: `<${i}>`, call: i, return: null, outcome: 'unknown' }),
  );
  hard.push(
    line({
      client: 99,
      op: 'get',
      key: 'h',
      call: 100,
      return: 101,
      outcome: 'ok',
      output: { found: true, value: 'no' },
    }),
  );
  assert.equal(await run(['--timeout-ms', '100', file('hard.jsonl', hard.join('\n'))]), 2);
  out.length = 0;
  assert.equal(await run([file('broken.jsonl', `${put}\n{"client":1}\n`)]), 3);
  assert.match(out.join('\n'), /broken\.jsonl:2: /);
  assert.equal(await run([join(dir, 'missing.jsonl')]), 3);
  assert.equal(await run(['--format', 'nope', join(dir, 'ok.jsonl')]), 3);
  assert.equal(existsSync(join(dir, 'none.html')), false);
});

test('leasekv check -w json: the verdict as JSON (stdout only JSON); typos suggested; -w table refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leasekv-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out: string[] = [];
  const err: string[] = [];
  t.mock.method(console, 'log', (s: string) => out.push(s));
  t.mock.method(console, 'error', (s: string) => err.push(s));
  writeFileSync(join(dir, 'bad.jsonl'), `${put}\n${badGet}\n`);
  assert.equal(await run(['-w', 'json', '--html', join(dir, 'v.html'), join(dir, 'bad.jsonl')]), 1);
  assert.equal(out.length, 1);
  const r = JSON.parse(out[0]!) as { verdict: string; violation: { key: string } };
  assert.equal(r.verdict, 'not-linearizable');
  assert.equal(r.violation.key, 'k');
  assert.match(err.join('\n'), /timeline written to/);
  err.length = 0;
  assert.equal(await run(['--fromat', 'jsonl', join(dir, 'bad.jsonl')]), 3);
  assert.match(err.join('\n'), /unknown flag --fromat; did you mean --format\?/);
  assert.equal(await run(['-w', 'table', join(dir, 'bad.jsonl')]), 3);
  assert.match(err.join('\n'), /-w table is not offered by this command \(use one of: simple, json\)/);
});
