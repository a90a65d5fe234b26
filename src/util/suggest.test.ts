import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editDistance, nearest } from './suggest.ts';

test('editDistance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('endpoints', 'endpoints'), 0);
  assert.equal(editDistance('endpoint', 'endpoints'), 1);
  assert.equal(editDistance('endpoitns', 'endpoints'), 1);
  assert.equal(editDistance('ednpoints', 'endpoints'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
});

test('nearest suggests a likely typo, a unique prefix, and nothing for unrelated words', () => {
  const flags = ['endpoints', 'write-out', 'deadline-ms', 'help', 'consistency', 'limit'];
  assert.equal(nearest('endpoint', flags), 'endpoints');
  assert.equal(nearest('endpionts', flags), 'endpoints');
  assert.equal(nearest('writeout', flags), 'write-out');
  assert.equal(nearest('consistancy', flags), 'consistency');
  assert.equal(nearest('dead', flags), 'deadline-ms');
  assert.equal(nearest('verbose', flags), undefined);
  assert.equal(nearest('x', flags), undefined);
  assert.equal(nearest('stauts', ['status', 'scan', 'serve']), 'status');
  assert.equal(nearest('gte', ['get', 'put', 'del']), 'get');
});
