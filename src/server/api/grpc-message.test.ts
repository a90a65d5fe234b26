import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGrpcContentType, respell } from './grpc-message.ts';

test("respell: Connect's encodeURIComponent spelling becomes the gRPC spec's", () => {
  assert.equal(
    respell(encodeURIComponent('not leader; leader is n2 at 127.0.0.1:7002')),
    'not leader; leader is n2 at 127.0.0.1:7002',
  );
  assert.equal(respell(encodeURIComponent('100% / a, b')), '100%25 / a, b');
  assert.equal(respell(encodeURIComponent('clé\tx')), 'cl%C3%A9%09x');
  assert.equal(respell('plain'), 'plain');
  // Not valid percent-encoding (not Connect's): left as it came.
  assert.equal(respell('%E0%A4%A'), '%E0%A4%A');
});

test('isGrpcContentType: gRPC, not gRPC-web, Connect or JSON', () => {
  for (const ct of [
    'application/grpc',
    'application/grpc+proto',
    'Application/GRPC+json',
    'application/grpc; charset=x',
  ])
    assert.ok(isGrpcContentType(ct), ct);
  for (const ct of [
    undefined,
    '',
    'application/grpc-web',
    'application/grpc-web+proto',
    'application/json',
    'application/proto',
  ])
    assert.ok(!isGrpcContentType(ct), String(ct));
});
