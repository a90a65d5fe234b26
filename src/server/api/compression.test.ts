// Compressed requests (gzip, br) are accepted on every protocol, decompressed at most to
// maxRequestBytes; answers are never compressed (server.ts). Connect's router accepts no
// compression unless told: before the session 11 audit every compressed call was unimplemented.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { describe, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { fakeServer, post } from './test-util.ts';

/** A gRPC unary call over HTTP/2 with one message frame; resolves with grpc-status and grpc-message. */
function grpcCall(
  port: number,
  path: string,
  message: Buffer,
  encoding: string,
): Promise<{ status: string; message: string }> {
  const s = h2connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const r = s.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-encoding': encoding,
    });
    let status = '';
    let text = '';
    const take = (h: Record<string, unknown>): void => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) text = decodeURIComponent(String(h['grpc-message']));
    };
    r.on('response', take);
    r.on('trailers', take);
    r.on('data', () => undefined);
    r.on('close', () => {
      s.close();
      resolve({ status, message: text });
    });
    r.on('error', reject);
    const head = Buffer.alloc(5);
    head[0] = 1; // compressed
    head.writeUInt32BE(message.length, 1);
    r.end(Buffer.concat([head, message]));
  });
}

/** GetRequest { key: "a" } in protobuf. */
const GET_A = Buffer.from([0x0a, 0x01, 0x61]);

describe('compressed requests', () => {
  test('Connect JSON with content-encoding gzip or br is answered, not refused as unimplemented', async () => {
    const { server, port } = await fakeServer();
    try {
      for (const [name, z] of [
        ['gzip', gzipSync],
        ['br', brotliCompressSync],
      ] as const) {
        const put = await post(port, '/leasekv.v1.KV/Put', z(Buffer.from('{"key":"a","value":"1"}')), {
          'content-type': 'application/json',
          'content-encoding': name,
        });
        assert.equal(put.status, 200, put.body);
        const range = await post(port, '/leasekv.v1.KV/Range', z(Buffer.from('{"prefix":"a"}')), {
          'content-type': 'application/json',
          'content-encoding': name,
        });
        assert.equal(range.status, 200, range.body);
        assert.match(range.body, /"key":"a"/);
      }
    } finally {
      await server.close();
    }
  });

  test('gRPC with grpc-encoding gzip is answered; a bomb past maxRequestBytes is resource_exhausted', async () => {
    const { server, port } = await fakeServer({ limits: { maxRequestBytes: 2 * 1024 * 1024 } });
    try {
      const ok = await grpcCall(port, '/leasekv.v1.KV/Get', gzipSync(GET_A), 'gzip');
      assert.deepEqual(ok, { status: '0', message: '' });
      // 16 MiB of zeros in a few KiB: decompression stops at the limit.
      const bomb = await grpcCall(port, '/leasekv.v1.KV/Get', gzipSync(Buffer.alloc(16 * 1024 * 1024)), 'gzip');
      assert.equal(bomb.status, '8');
      assert.match(bomb.message, /larger than the limit of 2097152 bytes/);
    } finally {
      await server.close();
    }
  });
});
