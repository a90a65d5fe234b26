import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndpointError, endpointScheme, normalizeEndpoint } from './endpoint.ts';
import { LeasekvClient } from './client.ts';

test('normalizeEndpoint takes host:port, [v6]:port and http:// and https:// URLs', () => {
  assert.equal(normalizeEndpoint('127.0.0.1:7001'), '127.0.0.1:7001');
  assert.equal(normalizeEndpoint('https://127.0.0.1:7001'), '127.0.0.1:7001');
  assert.equal(endpointScheme('https://127.0.0.1:7001'), 'https');
  assert.equal(endpointScheme('HTTP://127.0.0.1:7001'), 'http');
  assert.equal(endpointScheme('127.0.0.1:7001'), null);
  assert.equal(normalizeEndpoint('http://127.0.0.1:7001'), '127.0.0.1:7001');
  assert.equal(normalizeEndpoint('HTTP://node-1.example:7001/'), 'node-1.example:7001');
  assert.equal(normalizeEndpoint(' localhost:7001 '), 'localhost:7001');
  assert.equal(normalizeEndpoint('[::1]:7001'), '[::1]:7001');
  assert.equal(normalizeEndpoint('http://[::1]:7001'), '[::1]:7001');
  assert.equal(normalizeEndpoint('[fe80::1%eth0]:7001'), '[fe80::1%eth0]:7001');
});

test('normalizeEndpoint refuses other schemes, paths, missing ports and bare IPv6 clearly', () => {
  const bad: [string, RegExp][] = [
    ['grpc://127.0.0.1:7001', /unsupported scheme 'grpc:\/\/'/],
    ['http://127.0.0.1:7001/v3', /no path/],
    ['http://127.0.0.1', /not host:port/],
    ['nohost', /'nohost' is not host:port, https:\/\/host:port or http:\/\/host:port$/],
    ['::1:7001', /IPv6 address in brackets/],
    ['127.0.0.1:0', /port 0 is not in 1\.\.65535/],
    ['127.0.0.1:70000', /port 70000/],
  ];
  for (const [text, why] of bad)
    assert.throws(
      () => normalizeEndpoint(text),
      (e: unknown) => e instanceof EndpointError && why.test(e.message),
      text,
    );
});

test('LeasekvClient accepts URL endpoints, and refuses http:// and https:// together', async () => {
  await new LeasekvClient({ endpoints: ['http://127.0.0.1:7001', '[::1]:7002'] }).close();
  await new LeasekvClient({ endpoints: ['https://127.0.0.1:7001', '[::1]:7002'] }).close();
  assert.throws(
    () => new LeasekvClient({ endpoints: ['https://127.0.0.1:7001', 'http://127.0.0.1:7002'] }),
    /both http:\/\/ and https:\/\//,
  );
  assert.throws(
    () => new LeasekvClient({ endpoints: ['http://127.0.0.1:7001'], tls: {} }),
    /http:\/\/ endpoints with tls options/,
  );
});
