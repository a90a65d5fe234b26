// The host's in-order completion queue for pipelined Readies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InOrderCompletions } from './pipeline.ts';

test('completions run in the order added, each once it and all before it are done', () => {
  const q = new InOrderCompletions();
  const ran: string[] = [];
  const a = q.add(() => ran.push('a'));
  const b = q.add(() => ran.push('b'));
  const c = q.add(() => ran.push('c'));
  c();
  b();
  assert.equal(ran.length, 0, 'nothing runs before the first is done');
  a();
  assert.deepEqual(ran, ['a', 'b', 'c']);
  assert.equal(q.size, 0);
  q.add(() => ran.push('d'))();
  assert.deepEqual(ran, ['a', 'b', 'c', 'd'], 'with nothing ahead, a completion runs at once');
});

test('a completion that adds and finishes another does not run it out of order or nested', () => {
  const q = new InOrderCompletions();
  const ran: string[] = [];
  let depth = 0;
  const first = q.add(() => {
    depth++;
    ran.push(`first@${depth}`);
    q.add(() => ran.push(`inner@${depth}`))();
    depth--;
  });
  const second = q.add(() => ran.push('second'));
  second();
  first();
  assert.deepEqual(ran, ['first@1', 'second', 'inner@0']);
});
