import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code } from '@connectrpc/connect';
import { TYPED_ERRORS, toConnectError } from './errors.ts';

test('every typed error is listed under its own name and maps to a status other than internal', () => {
  for (const [name, cls] of Object.entries(TYPED_ERRORS)) {
    // Built the way the API thread rebuilds one (api-thread/remote.ts decodeError).
    const e = Object.assign(Object.create(cls.prototype) as Error, { leaderId: '', leaderClientAddr: '', oldest: 1 });
    Object.defineProperty(e, 'message', { value: 'm' });
    assert.equal((cls as unknown as { name: string }).name, name);
    assert.notEqual(toConnectError(e).code, Code.Internal, name);
  }
});
