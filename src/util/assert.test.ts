import { test } from 'node:test';
import { strict as nodeAssert } from 'node:assert';
import { AssertionError, assert, unreachable } from './assert.ts';

test('assert throws AssertionError with the message (built lazily), and passes when true', () => {
  assert(true, 'never');
  let built = 0;
  assert(true, () => `cost ${++built}`);
  nodeAssert.equal(built, 0);
  nodeAssert.throws(
    () => assert(false, 'broken invariant'),
    (e: unknown) => e instanceof AssertionError && e.message === 'broken invariant',
  );
  nodeAssert.throws(() => assert(1 > 2, () => 'lazy'), /lazy/);
});

test('unreachable names the value that got through', () => {
  nodeAssert.throws(
    () => unreachable('x' as never, 'op'),
    (e: unknown) => e instanceof AssertionError && e.message === 'unreachable: unexpected op "x"',
  );
});
