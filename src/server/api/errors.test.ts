import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code } from '@connectrpc/connect';
import { TYPED_ERRORS, grpcMessageHeader, toConnectError } from './errors.ts';

test('every typed error is listed under its own name and maps to a status other than internal', () => {
  for (const [name, cls] of Object.entries(TYPED_ERRORS)) {
    // Built the way the API thread rebuilds one (api-thread/remote.ts decodeError).
    const e = Object.assign(Object.create(cls.prototype) as Error, { leaderId: '', leaderClientAddr: '', oldest: 1 });
    Object.defineProperty(e, 'message', { value: 'm' });
    assert.equal((cls as unknown as { name: string }).name, name);
    assert.notEqual(toConnectError(e).code, Code.Internal, name);
  }
});

test('grpcMessageHeader percent-encodes only what the gRPC spec says (non-printable bytes and %)', () => {
  assert.equal(grpcMessageHeader('limit: 128; "x/y", 50%'), 'limit: 128; "x/y", 50%25');
  assert.equal(decodeURIComponent(grpcMessageHeader('é\n')), 'é\n');
});
